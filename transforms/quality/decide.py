"""The quality decisions: every threshold rule, decontamination and dedup over stored stats.

candidates (clip records with stats, captions, hash and fingerprint) -> (accepted, rejects, dropped captions)

  1. per clip (stage "quality"): the audio rules of gate.py; each caption through the caption
     rules (rules.py) — failing captions are dropped, and a clip left without one is rejected
     with the first caption's first reason (the detail lists every caption's failures);
     every failing caption becomes a DroppedCaption record (its text, provenance, first rule and
     all its failures), whatever becomes of its clip, so no caption a model wrote vanishes;
  2. per clip (stage "decontaminate"): evaluation sets by id and by fingerprint;
  3. over all survivors (stage "dedup"): exact and near-duplicate audio, near-duplicate captions
     (find_duplicates.py: keyed steps, nothing gathers the clips); each clip meets its verdict in
     a keyed join (CoGroupByKey by clip key), not a side input. A kept clip's near-duplicate captions
     become DroppedCaption records too (stage "dedup"); a clip that loses all of them is a
     reject, as any duplicate clip.

Nothing here reads audio or runs a model, so `tunescribe filter` re-runs it on a built corpus
with new thresholds and gets what a full rebuild with them would give.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

import apache_beam as beam
from apache_beam.utils.shared import Shared

from tunescribe.schemas import Caption, Clip, DroppedCaption, Reject
from tunescribe.transforms.quality.decontaminate import EvalIndex, contamination, load_eval_set
from tunescribe.transforms.quality.duplicates import Summary
from tunescribe.transforms.quality.find_duplicates import FindDuplicates, find_duplicates
from tunescribe.transforms.quality.gate import check_clip
from tunescribe.transforms.quality.rules import CaptionRules, caption_failures
from tunescribe.transforms.quality.settings import Decisions, DedupRules, EvalSetSpec
from tunescribe.transforms.stage import REJECTS, Rejected, RunStage, reject_of, rejected_output

DECISION_STAGES = ("quality", "decontaminate", "dedup")
# Output tag of the dropped-caption records.
DROPPED = "dropped_captions"


def judge_captions(clip: Clip, rules: CaptionRules) -> tuple[Clip, list[tuple[int, list]]]:
    """(clip with only its passing captions, [(caption index, failures)] of the dropped ones)."""
    kept, dropped = [], []
    for i, caption in enumerate(clip.captions):
        failures = caption_failures(caption, clip, rules)
        (dropped.append((i, failures)) if failures else kept.append(caption))
    return dataclasses.replace(clip, captions=tuple(kept)), dropped


def dropped_caption(clip: Clip, index: int, caption: Caption, stage: str, failures: list) -> DroppedCaption:
    """The record of a caption taken off `clip`: reason is the first failure, detail lists all."""
    return DroppedCaption(
        key=clip.key, source_id=clip.source_id, clip_index=clip.clip_index, caption_index=index, stage=stage,
        reason=failures[0][0], detail="; ".join(f"{r}: {t}" for r, t in failures), task=caption.task,
        backend=caption.backend, prompt_id=caption.prompt_id, prompt_version=caption.prompt_version,
        text=caption.text, input_uri=clip.input_uri, model_id=caption.model_id,
        model_revision=caption.model_revision, seed=caption.seed)


def caption_drops(clip: Clip, rules: CaptionRules) -> list[DroppedCaption]:
    """Every caption of `clip` that fails a caption rule, as a record (stage "quality")."""
    _, dropped = judge_captions(clip, rules)
    return [dropped_caption(clip, i, clip.captions[i], "quality", failures) for i, failures in dropped]


def clip_verdict(clip: Clip, d: Decisions) -> tuple[Optional[Clip], list[tuple[str, str]]]:
    """Per-clip rules: (clip with its passing captions, []) or (None, failures)."""
    judged, dropped = judge_captions(clip, d.captions)
    failures = check_clip(judged, d)
    if dropped and not judged.captions and d.require_caption:
        # Name the captions' own reasons rather than the bare "no caption left".
        first = dropped[0][1][0][0]
        detail = "; ".join(f"caption {i} ({clip.captions[i].task}): " + ", ".join(f"{r}: {t}" for r, t in f)
                           for i, f in dropped)
        # Audio rules come first: a silent clip is "too_silent" whatever its captions say.
        failures = [f for f in failures if f[0] != "no_caption"] + [(first, detail)]
    return (None, failures) if failures else (judged, [])


def clip_rejected(failures: list[tuple[str, str]]) -> Rejected:
    """A clip the rules refuse: the first failure's reason, every failure in the detail."""
    return Rejected(failures[0][0], "; ".join(f"{r}: {t}" for r, t in failures))


class _PerClip(beam.DoFn):
    def __init__(self, decisions: Decisions):
        self.d = decisions

    def setup(self):
        self.dropped = beam.metrics.Metrics.counter("quality", "captions_dropped")

    def process(self, clip: Clip):
        judged, failures = clip_verdict(clip, self.d)
        if failures:
            raise clip_rejected(failures)
        self.dropped.inc(len(clip.captions) - len(judged.captions))
        yield judged


def eval_index(eval_sets: tuple[EvalSetSpec, ...]) -> Optional[EvalIndex]:
    return EvalIndex([load_eval_set(e) for e in eval_sets]) if eval_sets else None


def contamination_hit(clip: Clip, index: EvalIndex, rules: DedupRules) -> Optional[tuple[str, str]]:
    """(reason, detail) when the clip matches an evaluation set, by id or by audio."""
    # max_ber None switches off near-duplicate dedup only; decontamination still matches audio.
    max_ber = 0.1 if rules.max_ber is None else rules.max_ber
    return contamination(clip, index, max_ber, rules.min_overlap_s, rules.min_coverage)


def after_dedup(clip: Clip, verdict) -> tuple[Union[Clip, Reject], list[DroppedCaption]]:
    """The clip as dedup's verdict leaves it — itself, itself less its near-duplicate captions, or
    its reject naming the kept twin — and the records of the captions it lost."""
    if verdict is None:
        return clip, []
    if verdict.reason:
        return reject_of("dedup", clip, Rejected(verdict.reason, f"{verdict.detail}; kept: {verdict.twin}")), []
    why = [("near_duplicate_caption", f"near-duplicates a caption of {verdict.twin}")]
    lost = [dropped_caption(clip, i, c, "dedup", why) for i, c in enumerate(clip.captions) if i in verdict.drop_captions]
    return dataclasses.replace(clip, captions=tuple(c for i, c in enumerate(clip.captions)
                                                    if i not in verdict.drop_captions)), lost


def decide_in_process(clips, d: Decisions) -> tuple[list[Clip], list[Reject], list[DroppedCaption]]:
    """DecideQuality's decisions in one process, from the same pieces: (accepted, rejects, dropped
    captions). For `tunescribe filter --dry-run`, which counts what each rule would drop without a
    pipeline."""
    index = eval_index(d.decontaminate)
    survivors, rejects, dropped = [], [], []
    for clip in clips:
        dropped += caption_drops(clip, d.captions)
        judged, failures = clip_verdict(clip, d)
        hit = None if failures else index and contamination_hit(judged, index, d.dedup)
        if failures:
            rejects.append(reject_of("quality", clip, clip_rejected(failures)))
        elif hit:
            rejects.append(reject_of("decontaminate", clip, Rejected(*hit)))
        else:
            survivors.append(judged)
    verdicts = find_duplicates([Summary.of(c) for c in survivors], d.dedup)
    accepted = []
    for clip in survivors:
        outcome, lost = after_dedup(clip, verdicts.get(clip.key))
        (rejects if isinstance(outcome, Reject) else accepted).append(outcome)
        dropped += lost
    return accepted, rejects, sorted(dropped, key=DroppedCaption.sort_key)


class _Decontaminate(beam.DoFn):
    def __init__(self, rules: DedupRules, eval_sets: tuple[EvalSetSpec, ...]):
        self.rules, self.eval_sets = rules, eval_sets
        # One index per worker process, whatever its threads: loading fingerprints the sets' audio.
        self.shared = Shared()

    def setup(self):
        self.index = self.shared.acquire(lambda: eval_index(self.eval_sets)) if self.eval_sets else None

    def process(self, clip: Clip):
        hit = self.index and contamination_hit(clip, self.index, self.rules)
        if hit:
            raise Rejected(*hit)
        yield clip


class _ApplyDedup(beam.DoFn):
    """(key, {"clip": [clip], "verdict": [at most one Verdict]}) -> the clip as dedup leaves it
    (or its reject), and the records of the captions it lost (DROPPED)."""

    def process(self, joined):
        _, groups = joined
        verdict = groups["verdict"][0] if groups["verdict"] else None
        for clip in groups["clip"]:
            outcome, lost = after_dedup(clip, verdict)
            yield rejected_output(outcome) if isinstance(outcome, Reject) else outcome
            for record in lost:
                yield beam.pvalue.TaggedOutput(DROPPED, record)


class DecideQuality(beam.PTransform):
    """candidates -> (accepted, [rejects...], dropped captions); see the module docstring."""

    def __init__(self, decisions: Decisions):
        super().__init__()
        self.d = decisions

    def expand(self, candidates):
        d = self.d
        passed, bad_quality = candidates | "PerClip" >> RunStage("quality", _PerClip(d))
        clean, contaminated = passed | "Decontaminate" >> RunStage("decontaminate", _Decontaminate(d.dedup, d.decontaminate))
        verdicts = clean | "Summaries" >> beam.Map(Summary.of) | "FindDuplicates" >> FindDuplicates(d.dedup)
        results = (
            {"clip": clean | "KeyClips" >> beam.Map(lambda c: (c.key, c)), "verdict": verdicts}
            | "JoinVerdicts" >> beam.CoGroupByKey()
            | "ApplyDedup" >> beam.ParDo(_ApplyDedup()).with_outputs(REJECTS, DROPPED, main="accepted")
        )
        # From the candidates themselves, not from PerClip: a clip the rules reject (no caption
        # left, or too silent) still leaves the records of its failing captions.
        by_rules = candidates | "CaptionDrops" >> beam.FlatMap(caption_drops, d.captions)
        dropped = (by_rules, results[DROPPED]) | "AllDroppedCaptions" >> beam.Flatten()
        return results.accepted, [bad_quality, contaminated, results[REJECTS]], dropped
