"""Exact-audio duplicates: clips with equal `audio_hash` (the PCM at 16 bits, not the file bytes).

(audio_hash, member) -> group per hash -> all but the first by priority are duplicates of it. A
hash group holds every clip with that PCM, ~100 bytes each.
"""

from __future__ import annotations

import apache_beam as beam

from tunescribe.transforms.quality.duplicates import MEMBER_KEY, Summary, Verdict, group_by_key


def hash_members(s: Summary):
    if s.audio_hash:
        yield s.audio_hash, s.member


def exact_duplicates(members):
    """(key, Verdict) for every member of one audio_hash group but the first by priority."""
    first, *others = sorted(members)
    for m in others:
        yield m[MEMBER_KEY], Verdict("duplicate_audio", f"same PCM as {first[MEMBER_KEY]}", first[MEMBER_KEY])


@beam.ptransform_fn
def FindExactAudio(summaries):
    return (summaries
            | "ByHash" >> beam.FlatMap(hash_members)
            | "GroupHash" >> beam.GroupByKey()
            | "AllButFirst" >> beam.FlatMapTuple(lambda _, members: exact_duplicates(list(members))))


def find_exact_audio(live) -> dict[str, Verdict]:
    """FindExactAudio in one process."""
    groups = group_by_key((kv for s in live for kv in hash_members(s)), list)
    return dict(kv for members in groups.values() for kv in exact_duplicates(members))
