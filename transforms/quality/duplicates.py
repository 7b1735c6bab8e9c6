"""What the kinds of duplicate (exact_audio.py, near_audio.py, near_captions.py) share: a clip's
`Summary`, its `Verdict`, grouping by a shared value with a bound, and the verification join, each
in Beam and in one process (`find_duplicates`), which give the same groups, pairs and records.

Memory: a Summary is ~4.9 kB pickled (the fingerprint: 414 frames of 8 bytes, 4.4 kB in base64)
plus captions, ~5 GB at 10^6, never gathered: a join group holds one clip and its candidates
(~5 kB each: 100 candidates ~0.5 MB).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Optional

import apache_beam as beam

from tunescribe.schemas import Clip


@dataclasses.dataclass(frozen=True)
class Summary:
    """What dedup needs of a clip: no audio, only its stored identity stats."""

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

    @property
    def member(self) -> tuple:
        """(priority..., source_id): what a group needs of a clip; members sort in visiting order."""
        return (*self.priority, self.source_id)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A clip's dedup outcome: rejected with (reason, detail, twin), or captions to drop."""

    reason: Optional[str] = None
    detail: str = ""
    twin: Optional[str] = None
    drop_captions: tuple[int, ...] = ()


# Member tuples: (rank, key, source_id) for audio, (rank, key, source_id, caption index) for captions.
MEMBER_KEY, MEMBER_SOURCE, MEMBER_CAPTION = 1, 2, 3


class UpTo(beam.CombineFn):
    """The members sharing one value, sorted; None once more than `limit` share it. Bounded: a
    frequent value never collects its members, and merges of partial groups in any order and
    split give the same answer."""

    def __init__(self, limit: int):
        self.limit = limit

    def create_accumulator(self):
        return []

    def add_input(self, members, member):
        if members is None:
            return None
        members.append(member)
        return members if len(members) <= self.limit else None

    def merge_accumulators(self, accumulators):
        merged = []
        for members in accumulators:
            if members is None:
                return None
            merged.extend(members)
            if len(merged) > self.limit:
                return None
        return merged

    def extract_output(self, members):
        return None if members is None else tuple(sorted(members))


def pairs_across_sources(members):
    """(later, earlier) for each two members of different sources, in visiting order."""
    for i, later in enumerate(members or ()):
        for earlier in members[:i]:
            if earlier[MEMBER_SOURCE] != later[MEMBER_SOURCE]:  # repeats inside one track are music, not duplicates
                yield later, earlier


@beam.ptransform_fn
def VerifyPairs(pairs, summaries, build):
    """((later key, earlier key), info) -> build(later Summary, [(earlier Summary, info)]) per
    later clip, None dropped: the earlier clip's summary joined on by key, then the later one's,
    so a worker holds one clip and its candidates, never every fingerprint."""
    by_key = summaries | "Key" >> beam.Map(lambda s: (s.key, s))
    with_earlier = ({"pair": pairs | "ByEarlier" >> beam.MapTuple(lambda p, info: (p[1], (p[0], info))),
                     "summary": by_key}
                    | "JoinEarlier" >> beam.CoGroupByKey()
                    | "ToLater" >> beam.FlatMapTuple(_to_later))
    return ({"earlier": with_earlier, "summary": by_key}
            | "JoinLater" >> beam.CoGroupByKey()
            | "Build" >> beam.FlatMap(_build, build))


def _to_later(_, joined):
    for earlier in joined["summary"]:
        for later, info in joined["pair"]:
            yield later, (earlier, info)


def _build(keyed, build):
    _, joined = keyed
    for later in joined["summary"]:
        if joined["earlier"] and (record := build(later, list(joined["earlier"]))) is not None:
            yield record


def group_by_key(pairs, finish) -> dict:
    """GroupByKey in one process: key -> finish(values)."""
    groups = defaultdict(list)
    for k, v in pairs:
        groups[k].append(v)
    return {k: finish(vs) for k, vs in groups.items()}


def combine_per_key(pairs, fn: beam.CombineFn) -> dict:
    """CombinePerKey in one process."""
    accumulators = {}
    for k, v in pairs:
        accumulators[k] = fn.add_input(accumulators[k] if k in accumulators else fn.create_accumulator(), v)
    return {k: fn.extract_output(a) for k, a in accumulators.items()}


def verify_pairs(pairs: dict, live, build) -> list:
    """VerifyPairs in one process: build(later Summary, [(earlier Summary, info)]) per clip."""
    by_key = {s.key: s for s in live}
    earlier = group_by_key((((later, (by_key[e], info)) for (later, e), info in pairs.items())), list)
    return [r for later, cands in sorted(earlier.items()) if (r := build(by_key[later], cands)) is not None]
