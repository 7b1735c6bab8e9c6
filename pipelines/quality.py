"""Composes the quality part of the build from the config: stats once, decisions separately."""

from __future__ import annotations

import apache_beam as beam

from tunescribe.pipelines.config import BuildConfig
from tunescribe.transforms.audio.encode import LoadAudio, drop_audio
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.quality.caption_stats import ComputeCaptionStats
from tunescribe.transforms.quality.decide import Decisions
from tunescribe.transforms.quality.decontaminate import EvalSetSpec
from tunescribe.transforms.quality.dedup import DedupRules
from tunescribe.transforms.quality.gate import QualityThresholds
from tunescribe.transforms.quality.rules import CaptionRules
from tunescribe.transforms.stage import RunStage


def decisions_of(cfg: BuildConfig) -> Decisions:
    q = cfg.quality
    c = q.captions.model_dump()
    c["languages"], c["voice_stats"] = tuple(c["languages"]), tuple(c["voice_stats"])
    c["from_tags_backends"] = tuple(c["from_tags_backends"])
    return Decisions(
        clip=QualityThresholds(q.min_duration_s, q.max_silence_ratio, q.require_caption),
        captions=CaptionRules(**c),
        dedup=DedupRules(**q.dedup.model_dump()),
        eval_sets=tuple(EvalSetSpec(e.name, e.path, e.id_column, tuple(sorted(e.where.items())), e.audio_column,
                                    e.audio_root) for e in q.decontaminate),
    )


def quality_stats(clips, cfg: BuildConfig, store: AudioStore):
    """Clips with captions -> (clips with caption stats and, if configured, CLAP scores, [rejects]).
    (The PCM hash and fingerprint are measured in the audio path, while the PCM is at hand.)"""
    scored, bad_text = clips | "CaptionStats" >> RunStage("stats", ComputeCaptionStats())
    rejects = [bad_text]
    if cfg.clap is not None:
        from tunescribe.transforms.quality.clap import ScoreAudioText
        from tunescribe.transforms.models.base import Batching, ModelSource

        source = ModelSource(cfg.clap.model, cfg.clap.revision, cfg.clap.device)
        listening = scored | "AudioTextListen" >> beam.ParDo(LoadAudio(store))
        scored, bad_clap = listening | "AudioTextScores" >> ScoreAudioText(
            source, Batching(max_batch_size=cfg.clap.batch_size, resource_hints=cfg.resources.hints()))
        scored = scored | "AudioTextDone" >> beam.Map(drop_audio)
        rejects.append(bad_clap)
    return scored, rejects

