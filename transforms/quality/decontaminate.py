"""Evaluation sets a corpus must not contain, and the check of one clip against them.

An evaluation set is a manifest (CSV/TSV/JSONL, or a .txt list with one id per line) of ids —
MusicCaps eval ytids, Song Describer track ids, any user list — optionally with audio. A clip
matches by id (its source id, track id, or a YouTube id in its source URL) or, where the set has
audio, by fingerprint: at least min_overlap_s (or most of a shorter clip) of the same audio.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from collections import defaultdict
from typing import Optional

from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas import Clip
from tunescribe.transforms.quality import fingerprint as fp
from tunescribe.transforms.quality.settings import EvalSetSpec

_YOUTUBE_ID = re.compile(r"(?:v=|youtu\.be/|ytsearch:|youtube\.com/shorts/)([A-Za-z0-9_-]{11})")


@dataclasses.dataclass(frozen=True)
class EvalSet:
    name: str
    ids: frozenset
    prints: tuple[tuple[str, str], ...] = ()  # (item id, fingerprint)


def _rows(path: str) -> list[dict]:
    with FileSystems.open(path) as f:
        text = f.read().decode("utf-8-sig")
    if path.endswith(".txt"):
        return [{"id": line.strip()} for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if path.endswith((".jsonl", ".json")):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text), delimiter="\t" if path.endswith(".tsv") else ","))


def load_eval_set(spec: EvalSetSpec, rate: int = 22050) -> EvalSet:
    """Reads the manifest (and fingerprints its audio, if it names any)."""
    from tunescribe.transforms.audio.decode import decode_audio

    rows = [r for r in _rows(spec.path) if all(str(r.get(c)) == v for c, v in spec.where.items())]
    id_column = "id" if spec.path.endswith(".txt") else spec.id_column
    missing = [r for r in rows if r.get(id_column) in (None, "")]
    if rows and len(missing) == len(rows):
        raise ValueError(f"evaluation set {spec.name}: no column {id_column!r} in {spec.path}")
    ids = frozenset(str(r[id_column]) for r in rows if r.get(id_column) not in (None, ""))
    prints = []
    if spec.audio_column:
        root = spec.audio_root or os.path.dirname(spec.path)
        for r in rows:
            path = r.get(spec.audio_column)
            if not path:
                continue
            full = path if "://" in path or os.path.isabs(path) else os.path.join(root, path)
            samples = decode_audio(full, rate, 1)
            prints.append((str(r.get(id_column, path)), fp.fingerprint(samples, rate)))
    return EvalSet(spec.name, ids, tuple(prints))


class EvalIndex:
    """Every evaluation set's ids and sub-fingerprints, for checking many clips."""

    def __init__(self, sets: list[EvalSet]):
        self.ids = {i: s.name for s in sets for i in s.ids}
        self.prints = {(s.name, item): fp.decode(f) for s in sets for item, f in s.prints}
        self.index: dict[int, list] = defaultdict(list)
        for ref, a in self.prints.items():
            for v in fp.keys(a):
                self.index[v].append(ref)

    def __bool__(self) -> bool:
        return bool(self.ids or self.prints)


def clip_ids(clip: Clip) -> list[str]:
    ids = [clip.source_id, clip.track_id or ""]
    ids += _YOUTUBE_ID.findall(clip.provenance.source_uri or "")
    return [i for i in ids if i]


def contamination(clip: Clip, index: EvalIndex, max_ber: float = 0.1, min_overlap_s: float = 5.0,
                  min_coverage: float = 0.5) -> Optional[tuple[str, str]]:
    """(reason, detail) when the clip is in an evaluation set, else None."""
    for i in clip_ids(clip):
        if i in index.ids:
            return "eval_id", f"id {i} is in evaluation set {index.ids[i]}"
    if not index.prints or not clip.fingerprint:
        return None
    a = fp.decode(clip.fingerprint)
    votes: dict = defaultdict(int)
    for v in fp.keys(a):
        for ref in index.index.get(v, ()):
            votes[ref] += 1
    for ref, n in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        if n < 2:
            break
        m = fp.same_audio(a, index.prints[ref], max_ber, min_overlap_s, min_coverage)
        if m is not None:
            return "eval_audio", (f"{m.frames * fp.HOP_S:.1f} s match item {ref[1]} of evaluation set {ref[0]} "
                                  f"(bit error rate {m.ber:.3f})")
    return None
