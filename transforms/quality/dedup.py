"""Finds duplicate clips among those that passed every per-clip rule, and picks who stays.

Three kinds, checked in this order, each on what the previous left:
  - exact audio: equal `audio_hash` (the PCM at 16 bits, not the file bytes);
  - near-duplicate audio: fingerprints (fingerprint.py) that agree at some offset with a bit error
    rate <= max_ber over at least min_overlap_s (or, for shorter clips, most of the clip);
  - near-duplicate captions (off unless caption_jaccard is set): MinHash over word 3-grams; a
    caption as good as equal to one of an earlier kept clip of another source is dropped, and a
    clip left without captions is a duplicate.

Who stays (the documented rule): clips are visited longest first, ties by key; a clip is kept
unless at least `min_coverage` of its frames are found in clips of other sources kept before it
(a chorus repeated inside one track is music, not duplicated data). So of a track
and its trimmed, resampled or re-encoded copy, the longer audio stays, and different parts of one
track (e.g. a verse and its repeat) are never merged unless they really are the same audio.
Each duplicate names its twin (the kept clip that covers most of it).

Stats (hash, fingerprint, caption text) are stored; this decision is cheap and re-runs with new
thresholds (`tunescribe filter`). It runs on one worker over compact summaries, candidates found
through an inverted index of sub-fingerprints and MinHash bands, so it never compares all pairs.

Why one worker: the keep rule is greedy in one global order (whether a clip stays depends on
which clips were kept before it, anywhere in the corpus), and `max_bucket` drops sub-fingerprint
values by their corpus-wide frequency. A summary is ~5 kB per 10 s clip (the fingerprint) plus
its captions, so 10^5 clips need ~0.5 GB on that worker and 10^6 ~5 GB. Scaling past that needs
a blocking key that keeps the result: the connected components of the candidate graph (clips
sharing non-frequent sub-fingerprint values or MinHash bands), found in Beam, with this greedy
run per component — clips in different components can never match. Not built yet.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from typing import Optional

import numpy as np

from tunescribe.schemas import Clip
from tunescribe.transforms.quality import fingerprint as fp


@dataclasses.dataclass(frozen=True)
class DedupRules:
    exact_audio: bool = True
    max_ber: Optional[float] = 0.1  # None: no near-duplicate audio check (copies measure <= 0.02)
    min_overlap_s: float = 5.0
    min_coverage: float = 0.5
    max_bucket: int = 200  # sub-fingerprint values shared by more clips carry no identity
    caption_jaccard: Optional[float] = None  # e.g. 0.9; None: captions are not deduplicated
    num_perm: int = 128


@dataclasses.dataclass(frozen=True)
class Summary:
    """What dedup needs of a clip (small enough to gather on one worker)."""

    key: str
    source_id: str
    duration_s: float
    audio_hash: Optional[str]
    fingerprint: Optional[str]
    captions: tuple[str, ...]

    @staticmethod
    def of(clip: Clip) -> "Summary":
        return Summary(clip.key, clip.source_id, clip.duration_s, clip.audio_hash, clip.fingerprint,
                       tuple(c.text for c in clip.captions))

    @property
    def priority(self) -> tuple:
        return (-round(self.duration_s, 3), self.key)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A clip's dedup outcome: rejected with (reason, detail, twin), or captions to drop."""

    reason: Optional[str] = None
    detail: str = ""
    twin: Optional[str] = None
    drop_captions: tuple[int, ...] = ()


def find_duplicates(summaries, rules: DedupRules) -> dict[str, Verdict]:
    """key -> Verdict for every clip that is a duplicate or loses a caption; others are absent."""
    order = sorted(summaries, key=lambda s: s.priority)
    verdicts: dict[str, Verdict] = {}
    if rules.exact_audio:
        first: dict[str, str] = {}
        for s in order:
            if s.audio_hash and s.audio_hash in first:
                verdicts[s.key] = Verdict("duplicate_audio", f"same PCM as {first[s.audio_hash]}", first[s.audio_hash])
            elif s.audio_hash:
                first[s.audio_hash] = s.key
    order = [s for s in order if s.key not in verdicts]
    if rules.max_ber is not None:
        verdicts.update(_near_audio(order, rules))
        order = [s for s in order if s.key not in verdicts]
    if rules.caption_jaccard is not None:
        verdicts.update(_near_captions(order, rules))
    return verdicts


def _near_audio(order, rules: DedupRules) -> dict[str, Verdict]:
    prints = {s.key: fp.decode(s.fingerprint) for s in order}
    source_of = {s.key: s.source_id for s in order}
    index: dict[int, list[str]] = defaultdict(list)  # sub-fingerprint -> kept clips holding it
    kept: list[str] = []
    out = {}
    for s in order:
        a = prints[s.key]
        useful = fp.informative(a)
        valid = int(np.count_nonzero(useful))
        if valid == 0:
            kept.append(s.key)
            continue
        votes: dict[str, int] = defaultdict(int)
        for v in fp.keys(a):
            bucket = index.get(v, ())
            if len(bucket) <= rules.max_bucket:
                for k in bucket:
                    if source_of[k] != s.source_id:  # repeats inside one track are music, not duplicates
                        votes[k] += 1
        covered = np.zeros(len(a), dtype=bool)
        best, best_frames = None, 0
        for other, n in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:20]:
            if n < 2:
                break
            m = fp.same_audio(a, prints[other], rules.max_ber, rules.min_overlap_s, rules.min_coverage)
            if m is None:
                continue
            covered[m.a_span[0]:m.a_span[1]] = True
            if m.frames > best_frames:
                best, best_frames = (other, m), m.frames
        coverage = float(np.count_nonzero(covered & useful)) / valid
        if best is not None and coverage >= rules.min_coverage:
            other, m = best
            out[s.key] = Verdict("duplicate_audio_near", f"{coverage:.0%} of it matches {other} "
                                 f"(bit error rate {m.ber:.3f} over {m.frames * fp.HOP_S:.1f} s)", other)
            continue
        kept.append(s.key)
        for v in fp.keys(a):
            index[v].append(s.key)
    return out


_WORD = re.compile(r"\w+")


def _minhash(text: str, num_perm: int):
    from datasketch import MinHash

    tokens = _WORD.findall(text.lower())
    grams = {" ".join(tokens[i:i + 3]) for i in range(max(1, len(tokens) - 2))}
    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return m


def _near_captions(order, rules: DedupRules) -> dict[str, Verdict]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=rules.caption_jaccard, num_perm=rules.num_perm)
    source_of: dict[str, str] = {}
    lsh_hashes: dict = {}
    out = {}
    for s in order:
        hashes = [_minhash(t, rules.num_perm) for t in s.captions]
        drop, twin = [], None
        for i, h in enumerate(hashes):
            for other in sorted(lsh.query(h)):
                okey = other.rsplit("#", 1)[0]
                if source_of[okey] != s.source_id and h.jaccard(lsh_hashes[other]) >= rules.caption_jaccard:
                    drop.append(i)
                    twin = twin or okey
                    break
        if drop and len(drop) == len(s.captions):
            out[s.key] = Verdict("duplicate_caption", f"every caption near-duplicates one of {twin}", twin)
            continue
        if drop:
            out[s.key] = Verdict(drop_captions=tuple(drop), twin=twin,
                                 detail=f"captions {drop} near-duplicate captions of {twin}")
        source_of[s.key] = s.source_id
        for i, h in enumerate(hashes):
            if i not in drop:
                name = f"{s.key}#{i}"
                lsh.insert(name, h)
                lsh_hashes[name] = h
    return out
