"""Which caption a training sample gets: one per sample, chosen by a policy.

A clip carries several captions, each with its `task` (writing, summary, paraphrase,
attribute_prediction, template, ...) and `backend` (template, transformers, openai, ...). A
policy picks one:
    CaptionPolicy.first()                   the first caption (the shard's .txt member)
    CaptionPolicy.random()                  uniformly among all
    CaptionPolicy.of(task="writing")        among those of a task and/or backend
    CaptionPolicy.weighted({"writing": 2, "summary": 1})   a task drawn by weight, then a caption of it
or from a string (`parse`): "first", "random", "task=writing", "task=summary,backend=openai",
"writing:2,summary:1". When no caption matches, a policy falls back to any caption (so every
sample still appears once per epoch) unless `strict`, which drops the sample instead.
"""

from __future__ import annotations

import dataclasses
from random import Random
from typing import Mapping, Optional, Sequence, Union


@dataclasses.dataclass(frozen=True)
class CaptionPolicy:
    task: Optional[str] = None
    backend: Optional[str] = None
    weights: Optional[tuple[tuple[str, float], ...]] = None  # (task, weight), as a tuple so the policy hashes
    first_only: bool = False
    strict: bool = False

    @classmethod
    def first(cls) -> "CaptionPolicy":
        return cls(first_only=True)

    @classmethod
    def random(cls) -> "CaptionPolicy":
        return cls()

    @classmethod
    def of(cls, task: Optional[str] = None, backend: Optional[str] = None, strict: bool = False) -> "CaptionPolicy":
        return cls(task=task, backend=backend, strict=strict)

    @classmethod
    def weighted(cls, weights: Mapping[str, float], strict: bool = False) -> "CaptionPolicy":
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"caption weights must be >= 0 and sum to more than 0: {dict(weights)}")
        return cls(weights=tuple(sorted(weights.items())), strict=strict)

    @classmethod
    def parse(cls, spec: Union[str, "CaptionPolicy"]) -> "CaptionPolicy":
        if isinstance(spec, CaptionPolicy):
            return spec
        text = spec.strip()
        if text == "first":
            return cls.first()
        if text in ("random", "any"):
            return cls.random()
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if parts and all("=" in p for p in parts):
            fields = dict(p.split("=", 1) for p in parts)
            unknown = set(fields) - {"task", "backend"}
            if unknown:
                raise ValueError(f"caption policy {spec!r}: unknown field(s) {sorted(unknown)}; use task= or backend=")
            return cls.of(**fields)
        if parts and all(":" in p for p in parts):
            try:
                return cls.weighted({t.strip(): float(w) for t, w in (p.split(":", 1) for p in parts)})
            except ValueError as exc:
                raise ValueError(f"caption policy {spec!r}: {exc}") from None
        raise ValueError(f"caption policy {spec!r}: expected first, random, task=..., backend=... "
                         "or task:weight,task:weight")

    @property
    def needs_rng(self) -> bool:
        return not self.first_only

    def pick(self, captions: Sequence[dict], rng: Optional[Random]) -> Optional[dict]:
        """One of `captions` (dicts with text/task/backend, as in the sample's json), or None when
        there is none to give (no captions at all, or none matching a strict policy)."""
        if not captions:
            return None
        if self.first_only:
            return captions[0]
        pool = [c for c in captions if (self.task is None or c["task"] == self.task)
                and (self.backend is None or c["backend"] == self.backend)]
        if self.weights:
            present = [(t, w) for t, w in self.weights if w > 0 and any(c["task"] == t for c in pool)]
            if present:
                task = rng.choices([t for t, _ in present], weights=[w for _, w in present])[0]
                pool = [c for c in pool if c["task"] == task]
            else:
                pool = []
        if not pool:
            if self.strict:
                return None
            pool = list(captions)
        return pool[rng.randrange(len(pool))] if len(pool) > 1 else pool[0]


PolicyLike = Union[str, CaptionPolicy]


def caption_schedule(captions: Union[PolicyLike, Sequence[PolicyLike]]) -> tuple[CaptionPolicy, ...]:
    """A policy, or a list of them used in turn, one per epoch (epoch e uses item e % len)."""
    items = [captions] if isinstance(captions, (str, CaptionPolicy)) else list(captions)
    if not items:
        raise ValueError("caption schedule is empty")
    return tuple(CaptionPolicy.parse(c) for c in items)
