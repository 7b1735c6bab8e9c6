"""Dedup as keyed Beam steps (the pieces and the keep rule are in dedup.py; see its docstring):
summaries -> (clip key, Verdict) for every clip that is a duplicate or loses a caption."""

from __future__ import annotations

import functools

import apache_beam as beam

from tunescribe.transforms.quality.dedup import (
    DedupRules,
    UpTo,
    audio_edges,
    audio_pairs,
    band_members,
    caption_edges,
    caption_pairs,
    distinct_sorted,
    exact_duplicates,
    hash_members,
    is_candidate,
    resolve_near_audio,
    resolve_near_captions,
    value_members,
)


class FindDuplicates(beam.PTransform):
    """Summaries -> (key, Verdict) for every clip that is a duplicate or loses a caption."""

    def __init__(self, rules: DedupRules):
        super().__init__()
        self.rules = rules

    def expand(self, summaries):
        rules, found = self.rules, []
        if rules.exact_audio:
            exact = summaries | "ExactAudio" >> _ExactAudio()
            found.append(exact)
            summaries = summaries | "LessExact" >> _Without(exact)
        if rules.max_ber is not None:
            near = summaries | "NearAudio" >> _NearAudio(rules)
            found.append(near)
            summaries = summaries | "LessNearAudio" >> _Without(near)
        if rules.caption_jaccard is not None:
            found.append(summaries | "NearCaptions" >> _NearCaptions(rules))
        if not found:
            return summaries | "NoVerdicts" >> beam.FlatMap(lambda s: ())
        return found | "Verdicts" >> beam.Flatten()


class _ExactAudio(beam.PTransform):
    def expand(self, summaries):
        return (summaries
                | "ByHash" >> beam.FlatMap(hash_members)
                | "GroupHash" >> beam.GroupByKey()
                | "AllButFirst" >> beam.FlatMapTuple(lambda _, members: exact_duplicates(list(members))))


class _Without(beam.PTransform):
    """Summaries less those with a verdict: a keyed join, nothing gathered."""

    def __init__(self, verdicts):
        super().__init__()
        self.verdicts = verdicts

    def expand(self, summaries):
        return ({"summary": summaries | "Key" >> beam.Map(lambda s: (s.key, s)), "verdict": self.verdicts}
                | "Join" >> beam.CoGroupByKey()
                | "Survivors" >> beam.FlatMapTuple(lambda _, g: () if g["verdict"] else g["summary"]))


class _Verify(beam.PTransform):
    """((later key, earlier key), info) -> build(later Summary, [(earlier Summary, info)]) per
    later clip, None dropped: the earlier clip's summary joined on by key, then the later one's,
    so a worker holds one clip and its candidates, never every fingerprint."""

    def __init__(self, summaries, build):
        super().__init__()
        self.summaries, self.build = summaries, build

    def expand(self, pairs):
        by_key = self.summaries | "Key" >> beam.Map(lambda s: (s.key, s))
        with_earlier = ({"pair": pairs | "ByEarlier" >> beam.MapTuple(lambda p, info: (p[1], (p[0], info))),
                         "summary": by_key}
                        | "JoinEarlier" >> beam.CoGroupByKey()
                        | "ToLater" >> beam.FlatMapTuple(_to_later))
        return ({"earlier": with_earlier, "summary": by_key}
                | "JoinLater" >> beam.CoGroupByKey()
                | "Build" >> beam.FlatMap(_build, self.build))


def _to_later(_, joined):
    for earlier in joined["summary"]:
        for later, info in joined["pair"]:
            yield later, (earlier, info)


def _build(keyed, build):
    _, joined = keyed
    for later in joined["summary"]:
        if joined["earlier"]:
            record = build(later, list(joined["earlier"]))
            if record is not None:
                yield record


class _NearAudio(beam.PTransform):
    def __init__(self, rules: DedupRules):
        super().__init__()
        self.rules = rules

    def expand(self, summaries):
        rules = self.rules
        return (summaries
                | "Values" >> beam.FlatMap(value_members)
                | "GroupValue" >> beam.CombinePerKey(UpTo(rules.max_bucket))
                | "Pairs" >> beam.FlatMapTuple(lambda _, members: audio_pairs(members))
                | "Votes" >> beam.CombinePerKey(sum)
                | "Candidates" >> beam.Filter(lambda kv: is_candidate(kv[1]))
                | "Verify" >> _Verify(summaries, functools.partial(audio_edges, rules=rules))
                | "AllEdges" >> beam.combiners.ToList()
                | "Resolve" >> beam.FlatMap(lambda records: sorted(resolve_near_audio(records, rules).items())))


class _NearCaptions(beam.PTransform):
    def __init__(self, rules: DedupRules):
        super().__init__()
        self.rules = rules

    def expand(self, summaries):
        rules = self.rules
        return (summaries
                | "Bands" >> beam.FlatMap(band_members, rules)
                | "GroupBand" >> beam.CombinePerKey(UpTo(rules.max_bucket))
                | "Pairs" >> beam.FlatMapTuple(lambda _, members: caption_pairs(members))
                | "GroupPair" >> beam.GroupByKey()
                | "Distinct" >> beam.MapTuple(lambda pair, captions: (pair, distinct_sorted(captions)))
                | "Verify" >> _Verify(summaries, functools.partial(caption_edges, rules=rules))
                | "AllEdges" >> beam.combiners.ToList()
                | "Resolve" >> beam.FlatMap(lambda records: sorted(resolve_near_captions(records).items())))
