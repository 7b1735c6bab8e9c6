"""Near-duplicate audio: fingerprints (fingerprint.py) that agree at some offset with a bit error
rate <= max_ber over at least min_overlap_s (or, for shorter clips, most of the clip).

  1. per clip, (sub-fingerprint value, member) for each distinct informative value among the 1 in
     VALUE_SAMPLE picked by a hash of the value (copies share many values, so they share sampled
     ones: 134/134 planted copies found at 4, 131 at 8);
  2. per value, its members, or nothing once more than `max_bucket` clips hold it (a frequent
     value carries no identity; counted with a bounded combiner, so a value held by 10^5 clips
     never sits on one worker); within a group, each pair of clips of different sources. The
     count is over every clip in the pass, not only those kept so far as when dedup ran on one
     worker: the same verdicts at the default 200, but a piece with more than max_bucket
     near-copies (not exact: those go first) shares no countable value and is not found by audio;
  3. votes per pair (shared values); pairs with >= MIN_VOTES are candidates;
  4. each candidate is verified with `fingerprint.same_audio`: the earlier clip's fingerprint is
     joined on by key, then the pairs of one later clip meet its own fingerprint (two
     CoGroupByKeys), giving per clip an `AudioEdges` record: its candidates ranked by votes, with
     the matched span where the audio agrees;
  5. the resolver replays the greedy rule from the records alone (no fingerprints).

Memory: ~390 distinct values a clip, of which ~100 sampled: (value, member) records of
~100 bytes, ~10 kB a clip: ~10 GB shuffled at 10^6, spread over workers (the step's main cost). A
group holds at most max_bucket + 1 members (~20 kB) however frequent its value, and makes at most
max_bucket^2 / 2 pairs (20k). The resolver: an AudioEdges record takes ~400 bytes + ~170 per
candidate in memory (about a fifth of that pickled), and only clips with a verified match have
one: 10^5 near-duplicates with 6 candidates each (the planted corpus's mean) ~140 MB; the worst
case, all 10^6 clips with 10 candidates each, ~2 GB.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Optional

import apache_beam as beam
import numpy as np

from tunescribe.transforms.quality import fingerprint as fp
from tunescribe.transforms.quality.duplicates import (
    MEMBER_KEY,
    Summary,
    UpTo,
    Verdict,
    VerifyPairs,
    combine_per_key,
    group_by_key,
    pairs_across_sources,
    verify_pairs,
)
from tunescribe.transforms.quality.settings import DedupRules

VALUE_SAMPLE = 4
MIN_VOTES = 2  # shared sub-fingerprint values that make two clips a candidate pair
MAX_CHECKED = 20  # best-voted kept candidates whose matched spans count toward a clip's coverage


def sampled(value: int) -> bool:
    """Whether a sub-fingerprint value is one of the 1 in VALUE_SAMPLE that candidate search
    indexes: chosen by a hash of the value alone, so two copies of the same audio sample the same
    values, and the step that groups values shuffles VALUE_SAMPLE times fewer records."""
    return (value * 0x9E3779B1) & 0xFFFFFFFF < 2**32 // VALUE_SAMPLE


def value_members(s: Summary):
    """(sub-fingerprint value, member) for each distinct informative sampled value of the clip."""
    member = s.member
    for v in sorted(fp.keys(fp.decode(s.fingerprint))):
        if sampled(v):
            yield v, member


def audio_pairs(members):
    """((later key, earlier key), 1) per pair in one value's group: one vote."""
    for later, earlier in pairs_across_sources(members):
        yield (later[MEMBER_KEY], earlier[MEMBER_KEY]), 1


def is_candidate(votes: int) -> bool:
    return votes >= MIN_VOTES


class Candidate(NamedTuple):
    """An earlier clip that shares values with a clip; span/ber set when the audio matches."""

    key: str
    votes: int
    span: Optional[tuple[int, int]]  # the clip's frames [start, end) found in `key`
    ber: float = 0.0

    @property
    def frames(self) -> int:
        return self.span[1] - self.span[0] if self.span else 0


@dataclasses.dataclass(frozen=True)
class AudioEdges:
    """A clip's candidates among earlier clips, best-voted first, trailing misses cut: all the
    resolver needs of it (no fingerprint)."""

    key: str
    priority: tuple
    frames: int
    informative: tuple[tuple[int, int], ...]  # runs [start, end) of frames with a reliable bit
    candidates: tuple[Candidate, ...]


def _runs(mask: np.ndarray) -> tuple[tuple[int, int], ...]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))


def _mask(runs, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for a, b in runs:
        out[a:b] = True
    return out


def audio_edges(clip: Summary, earlier, rules: DedupRules) -> Optional[AudioEdges]:
    """Verify a clip against its candidates [(earlier Summary, votes)]; None when none matches."""
    a = fp.decode(clip.fingerprint)
    checked = []
    for other, votes in sorted(earlier, key=lambda c: (-c[1], c[0].key)):  # the resolver's order
        m = fp.same_audio(a, fp.decode(other.fingerprint), rules.max_ber, rules.min_overlap_s, rules.min_coverage)
        checked.append(Candidate(other.key, votes, m.a_span, m.ber) if m else Candidate(other.key, votes, None))
    # A miss after the last match cannot change the outcome; one before it may take a checked slot.
    while checked and checked[-1].span is None:
        checked.pop()
    if not checked:
        return None
    return AudioEdges(clip.key, clip.priority, len(a), _runs(fp.informative(a)), tuple(checked))


def resolve_near_audio(records, rules: DedupRules) -> dict[str, Verdict]:
    """The greedy keep rule over AudioEdges records: visit in priority order; a clip's coverage
    is the union of spans matched in its MAX_CHECKED best-voted candidates still kept."""
    out: dict[str, Verdict] = {}
    for r in sorted(records, key=lambda r: r.priority):
        checked = [c for c in r.candidates if c.key not in out][:MAX_CHECKED]
        covered = np.zeros(r.frames, dtype=bool)
        best = None
        for c in checked:
            if c.span is None:
                continue
            covered[c.span[0]:c.span[1]] = True
            if best is None or c.frames > best.frames:
                best = c
        useful = _mask(r.informative, r.frames)
        valid = int(np.count_nonzero(useful))
        coverage = float(np.count_nonzero(covered & useful)) / valid if valid else 0.0
        if best is not None and coverage >= rules.min_coverage:
            out[r.key] = Verdict("duplicate_audio_near", f"{coverage:.0%} of it matches {best.key} "
                                 f"(bit error rate {best.ber:.3f} over {best.frames * fp.HOP_S:.1f} s)", best.key)
    return out


@beam.ptransform_fn
def FindNearAudio(summaries, rules: DedupRules):
    return (summaries
            | "Values" >> beam.FlatMap(value_members)
            | "GroupValue" >> beam.CombinePerKey(UpTo(rules.max_bucket))
            | "Pairs" >> beam.FlatMapTuple(lambda _, members: audio_pairs(members))
            | "Votes" >> beam.CombinePerKey(sum)
            | "Candidates" >> beam.Filter(lambda kv: is_candidate(kv[1]))
            | "Verify" >> VerifyPairs(summaries, functools.partial(audio_edges, rules=rules))
            | "AllEdges" >> beam.combiners.ToList()
            | "Resolve" >> beam.FlatMap(lambda records: sorted(resolve_near_audio(records, rules).items())))


def find_near_audio(live, rules: DedupRules) -> dict[str, Verdict]:
    """FindNearAudio in one process."""
    groups = combine_per_key((kv for s in live for kv in value_members(s)), UpTo(rules.max_bucket))
    votes = group_by_key((kv for members in groups.values() for kv in audio_pairs(members)), sum)
    candidates = {pair: n for pair, n in votes.items() if is_candidate(n)}
    records = verify_pairs(candidates, live, functools.partial(audio_edges, rules=rules))
    return resolve_near_audio(records, rules)
