"""Finds duplicate clips among those that passed every per-clip rule, and picks who stays.

Three kinds, checked in this order, each on what the previous left: exact audio (exact_audio.py),
near-duplicate audio (near_audio.py), near-duplicate captions (near_captions.py). Each module has
its steps and their memory (measured on the planted corpus, tests/transforms/quality/
test_find_duplicates.py, per 10 s clip and at 10^6 clips).

Who stays (the documented rule): clips are visited longest first, ties by key; a clip is kept
unless at least `min_coverage` of its informative frames are found in clips of other sources kept
before it (a chorus repeated inside one track is music, not duplicated data). Coverage is the union
of the matched spans of its (up to MAX_CHECKED) best-voted candidates among the kept clips. So of a
track and its trimmed, resampled or re-encoded copy, the longer audio stays, and different parts of
one track (e.g. a verse and its repeat) are never merged unless they really are the same audio.
Each duplicate names its twin (the kept clip that covers most of it).

Stats (hash, fingerprint, caption text) are stored; this decision is cheap and re-runs with new
thresholds (`tunescribe filter`). It is built of keyed steps (duplicates.py), so no worker holds
every clip, except the resolvers: they gather the records on ONE worker; only clips with a verified
match have a record (clips without one are kept, so they never reach it). Why not per connected
component: the components of the match graph need iterative label propagation in Beam, a full
shuffle per round and as many rounds as the longest chain; the records are small and few, so one
worker is the cheaper step. The resolvers give the same verdicts on any subset closed under edges,
so splitting them by component is the next step if records ever outgrow a worker.

`find_duplicates` runs the same functions in one process (`tunescribe filter --dry-run`, tests);
`FindDuplicates` is the Beam transform. Every step sorts what depends on order, so verdicts do not
depend on the runner, bundle splits or input order.
"""

from __future__ import annotations

import apache_beam as beam

from tunescribe.transforms.quality.duplicates import Verdict
from tunescribe.transforms.quality.exact_audio import FindExactAudio, find_exact_audio
from tunescribe.transforms.quality.near_audio import FindNearAudio, find_near_audio
from tunescribe.transforms.quality.near_captions import FindNearCaptions, find_near_captions
from tunescribe.transforms.quality.settings import DedupRules


@beam.ptransform_fn
def FindDuplicates(summaries, rules: DedupRules):
    """Summaries -> (key, Verdict) for every clip that is a duplicate or loses a caption."""
    found = []
    if rules.exact_audio:
        exact = summaries | "ExactAudio" >> FindExactAudio()
        found.append(exact)
        summaries = summaries | "LessExact" >> _Without(exact)
    if rules.max_ber is not None:
        near = summaries | "NearAudio" >> FindNearAudio(rules)
        found.append(near)
        summaries = summaries | "LessNearAudio" >> _Without(near)
    if rules.caption_jaccard is not None:
        found.append(summaries | "NearCaptions" >> FindNearCaptions(rules))
    if not found:
        return summaries | "NoVerdicts" >> beam.FlatMap(lambda s: ())
    return found | "Verdicts" >> beam.Flatten()


@beam.ptransform_fn
def _Without(summaries, verdicts):
    """Summaries less those with a verdict: a keyed join, nothing gathered."""
    return ({"summary": summaries | "Key" >> beam.Map(lambda s: (s.key, s)), "verdict": verdicts}
            | "Join" >> beam.CoGroupByKey()
            | "Survivors" >> beam.FlatMapTuple(lambda _, g: () if g["verdict"] else g["summary"]))


def find_duplicates(summaries, rules: DedupRules) -> dict[str, Verdict]:
    """key -> Verdict for every clip that is a duplicate or loses a caption; others are absent.
    The same steps as FindDuplicates, in one process."""
    live = sorted(summaries, key=lambda s: s.priority)
    verdicts: dict[str, Verdict] = {}
    if rules.exact_audio:
        verdicts.update(find_exact_audio(live))
        live = [s for s in live if s.key not in verdicts]
    if rules.max_ber is not None:
        verdicts.update(find_near_audio(live, rules))
        live = [s for s in live if s.key not in verdicts]
    if rules.caption_jaccard is not None:
        verdicts.update(find_near_captions(live, rules))
    return verdicts
