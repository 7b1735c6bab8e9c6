"""Hallucinated attributes: instruments, genres and moods a caption names that its inputs do not.

A caption is read with the corpus's tag vocabulary (transforms/ingest/vocabulary.py): a phrase of
the vocabulary table (longest first: "electric guitar" before "guitar") or a single word whose
category `categorise` reads as instrument, genre or mood is a *named attribute*. It is supported
when every word of it (singular forms) occurs in the input tags or attributes, or when its
canonical vocabulary name is that of an input tag or of a word of one ("synthesizer" is supported
by the tag "synth sounds"). A name right after "no"/"without"/"not" states an absence and is not
counted. A few vocabulary words that caption prose uses without naming anything ("in the
background", "a simple beat", "the band", "melodic") are not read as attributes (GENERIC).

The hallucination rate is the share of captions naming at least one unsupported attribute.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from tunescribe.transforms.captions.prompts import PREDICTED_ORIGIN
from tunescribe.transforms.ingest.vocabulary import TABLE
from tunescribe.transforms.ingest.vocabulary import categorise as _categorise

CHECKED = ("instrument", "genre", "mood")
# Vocabulary words that caption prose uses without naming an instrument, genre or mood.
GENERIC = frozenset("""instrument instruments instrumentation band ensemble beat beats groove grooves riff riffs
    chord chords arpeggio arpeggios percussive conductor trio quartet background melodic""".split())
NEGATIONS = frozenset({"no", "without", "not", "nor"})
MAX_PHRASE = 4
_TOKEN = re.compile(r"[a-z0-9][a-z0-9&+'-]*")
_JOINERS = frozenset({"and", "n", "&", "of", "the", "'n'"})  # "drum and bass" is supported by its words
_VOCAL_NEGATIONS = frozenset({"no vocals", "instrumental"})


categorise = functools.lru_cache(maxsize=1 << 16)(_categorise)  # captions repeat their words


def singular(word: str) -> str:
    word = word.removesuffix("'s")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


@dataclass(frozen=True)
class Support:
    """What a clip's inputs say: their words (singular) and the canonical names they stand for."""

    words: frozenset
    names: frozenset

    @staticmethod
    def of(tags: Iterable, attributes: Iterable = ()) -> "Support":
        words, names = set(), set()
        texts = []
        for tag in tags:
            name, origin = (tag["name"], tag.get("origin", "")) if isinstance(tag, dict) else (tag.name, tag.origin)
            if str(origin).startswith(PREDICTED_ORIGIN):  # an LLM's prediction is an output, not an input
                continue
            texts.append(name)
            names.add(categorise(name)[0])
        for a in attributes:
            get = a.get if isinstance(a, dict) else (lambda k, a=a: getattr(a, k))
            texts += [str(get("name")), str(get("value") or "")]
        for text in texts:
            for token in _tokens(text):
                for part in {token, *token.split("-")} - {""}:
                    words.add(singular(part))
                    names.add(categorise(part)[0])
        if names & _VOCAL_NEGATIONS or any(n.startswith("no vocal") for n in names):
            names |= _VOCAL_NEGATIONS  # "instrumental" and "no vocals" say the same
        return Support(frozenset(words), frozenset(names))

    def supports(self, phrase: str) -> bool:
        parts = [singular(p) for token in phrase.split() for p in token.split("-") if p and p not in _JOINERS]
        return all(p in self.words for p in parts) or categorise(phrase)[0] in self.names


def named_attributes(text: str) -> list[tuple[str, str]]:
    """(phrase, category) for each instrument/genre/mood (CHECKED) the text names, in order."""
    tokens = _tokens(text)
    found, i = [], 0
    while i < len(tokens):
        for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i:i + n])
            if n > 1:
                hit = TABLE.get(phrase)
                category = hit[1] if hit else None
            elif phrase in GENERIC or phrase.isdigit():
                category = None
            else:
                category = categorise(phrase)[1]
            if n > 1 and category is None:
                continue
            if category in CHECKED and not (i > 0 and tokens[i - 1] in NEGATIONS):
                found.append((phrase, category))
            i += n if category is not None else 1
            break
    return found


def hallucinations(caption: str, tags: Iterable, attributes: Iterable = ()) -> list[tuple[str, str]]:
    """The attributes `caption` names that the inputs do not support."""
    support = Support.of(tags, attributes)
    return [(p, c) for p, c in named_attributes(caption) if not support.supports(p)]


@dataclass
class HallucinationReport:
    captions: int = 0
    with_hallucination: int = 0
    by_category: Counter = field(default_factory=Counter)
    top: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float | None:
        return self.with_hallucination / self.captions if self.captions else None

    def as_dict(self, top: int = 10) -> dict:
        return {"hallucination_rate": self.rate, "hallucination_checked": self.captions,
                "captions_with_hallucination": self.with_hallucination,
                "hallucinated_by_category": dict(sorted(self.by_category.items())),
                "top_unsupported": dict(self.top.most_common(top))}


def hallucination_report(captions: Sequence[str], inputs: Sequence[tuple[Iterable, Iterable]]) -> HallucinationReport:
    """Counts over captions, each with its (tags, attributes)."""
    report = HallucinationReport()
    for caption, (tags, attributes) in zip(captions, inputs, strict=True):
        found = hallucinations(caption, tags, attributes)
        report.captions += 1
        report.with_hallucination += bool(found)
        report.by_category.update(c for _, c in found)
        report.top.update(p for p, _ in found)
    return report
