"""The quality decisions: every threshold rule, decontamination and dedup over stored stats.

candidates (clips with stats, captions, hash, fingerprint and encoded audio) -> (accepted, rejects)

  1. per clip (stage "quality"): the audio rules of gate.py; each caption through the caption
     rules (rules.py) — failing captions are dropped, and a clip left without one is rejected
     with the first caption's first reason (the detail lists every caption's failures);
  2. per clip (stage "decontaminate"): evaluation sets by id and by fingerprint;
  3. over all survivors (stage "dedup"): exact and near-duplicate audio, near-duplicate captions.

Nothing here reads audio or runs a model, so `tunescribe filter` re-runs it on a built corpus
with new thresholds and gets what a full rebuild with them would give.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import apache_beam as beam

from tunescribe.schemas import Clip, Reject
from tunescribe.transforms.quality.decontaminate import EvalIndex, EvalSetSpec, contamination, load_eval_set
from tunescribe.transforms.quality.dedup import DedupRules, Summary, find_duplicates
from tunescribe.transforms.quality.gate import QualityThresholds, check_clip
from tunescribe.transforms.quality.rules import CaptionRules, caption_failures
from tunescribe.transforms.stage import REJECTS, Rejected, RunStage

DECISION_STAGES = ("quality", "decontaminate", "dedup")


@dataclasses.dataclass(frozen=True)
class Decisions:
    """Every threshold the decisions use."""

    clip: QualityThresholds = QualityThresholds()
    captions: CaptionRules = CaptionRules()
    dedup: DedupRules = DedupRules()
    eval_sets: tuple[EvalSetSpec, ...] = ()


def judge_captions(clip: Clip, rules: CaptionRules) -> tuple[Clip, list[tuple[int, list]]]:
    """(clip with only its passing captions, [(caption index, failures)] of the dropped ones)."""
    kept, dropped = [], []
    for i, caption in enumerate(clip.captions):
        failures = caption_failures(caption, clip, rules)
        (dropped.append((i, failures)) if failures else kept.append(caption))
    return dataclasses.replace(clip, captions=tuple(kept)), dropped


def clip_verdict(clip: Clip, d: Decisions) -> tuple[Optional[Clip], list[tuple[str, str]]]:
    """Per-clip rules: (clip with its passing captions, []) or (None, failures)."""
    judged, dropped = judge_captions(clip, d.captions)
    failures = check_clip(judged, d.clip)
    if dropped and not judged.captions and d.clip.require_caption:
        # Name the captions' own reasons rather than the bare "no caption left".
        first = dropped[0][1][0][0]
        detail = "; ".join(f"caption {i} ({clip.captions[i].task}): " + ", ".join(f"{r}: {t}" for r, t in f)
                           for i, f in dropped)
        # Audio rules come first: a silent clip is "too_silent" whatever its captions say.
        failures = [f for f in failures if f[0] != "no_caption"] + [(first, detail)]
    return (None, failures) if failures else (judged, [])


class _PerClip(beam.DoFn):
    def __init__(self, decisions: Decisions):
        self.d = decisions

    def setup(self):
        self.dropped = beam.metrics.Metrics.counter("quality", "captions_dropped")

    def process(self, clip: Clip):
        judged, failures = clip_verdict(clip, self.d)
        if failures:
            raise Rejected(failures[0][0], "; ".join(f"{r}: {t}" for r, t in failures))
        self.dropped.inc(len(clip.captions) - len(judged.captions))
        yield judged


class _Decontaminate(beam.DoFn):
    def __init__(self, rules: DedupRules):
        self.rules = rules

    def process(self, clip: Clip, eval_sets):
        if eval_sets:
            index = _index_of(eval_sets)
            hit = contamination(clip, index, self.rules.max_ber or 0.1, self.rules.min_overlap_s,
                                self.rules.min_coverage)
            if hit:
                raise Rejected(*hit)
        yield clip


_INDEX_CACHE: dict = {}


def _index_of(eval_sets) -> EvalIndex:
    key = id(eval_sets)
    if key not in _INDEX_CACHE:  # one index per side-input value per worker
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = EvalIndex(list(eval_sets))
    return _INDEX_CACHE[key]


class _ApplyDedup(beam.DoFn):
    def process(self, clip: Clip, verdicts):
        v = verdicts.get(clip.key)
        if v is None:
            yield clip
        elif v.reason:
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                source_id=clip.source_id, key=clip.key, clip_index=clip.clip_index, stage="dedup",
                reason=v.reason, detail=f"{v.detail}; kept: {v.twin}", input_uri=clip.input_uri))
        else:
            keep = tuple(c for i, c in enumerate(clip.captions) if i not in v.drop_captions)
            yield dataclasses.replace(clip, captions=keep)


class DecideQuality(beam.PTransform):
    """candidates -> (accepted, [rejects...]); see the module docstring."""

    def __init__(self, decisions: Decisions):
        super().__init__()
        self.d = decisions

    def expand(self, candidates):
        d = self.d
        passed, bad_quality = candidates | "PerClip" >> RunStage("quality", _PerClip(d))
        eval_sets = (candidates.pipeline | "EvalSets" >> beam.Create(list(d.eval_sets))
                     | "LoadEvalSet" >> beam.Map(load_eval_set))
        clean, contaminated = passed | "Decontaminate" >> RunStage(
            "decontaminate", _Decontaminate(d.dedup), side_inputs={"eval_sets": beam.pvalue.AsList(eval_sets)})
        verdicts = (
            clean
            | "Summaries" >> beam.Map(Summary.of)
            | "AllSummaries" >> beam.combiners.ToList()
            | "FindDuplicates" >> beam.Map(find_duplicates, d.dedup)
        )
        results = clean | "ApplyDedup" >> beam.ParDo(
            _ApplyDedup(), verdicts=beam.pvalue.AsSingleton(verdicts)).with_outputs(REJECTS, main="accepted")
        return results.accepted, [bad_quality, contaminated, results[REJECTS]]
