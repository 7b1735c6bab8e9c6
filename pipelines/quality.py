"""Composes the quality part of the build from the config: stats once, decisions separately."""

from __future__ import annotations

import apache_beam as beam

from tunescribe.pipelines.config import BuildConfig
from tunescribe.transforms.audio.encode import LoadAudio, drop_audio
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.quality.caption_stats import ComputeCaptionStats
from tunescribe.transforms.stage import RunStage


def quality_stats(clips, cfg: BuildConfig, store: AudioStore):
    """Clips with captions -> (clips with caption stats and, if configured, CLAP scores, [rejects]).
    (The PCM hash and fingerprint are measured in the audio path, while the PCM is at hand.)"""
    scored, bad_text = clips | "CaptionStats" >> RunStage("stats", ComputeCaptionStats())
    rejects = [bad_text]
    if cfg.clap is not None:
        from tunescribe.transforms.models.base import Batching
        from tunescribe.transforms.quality.clap import ScoreAudioText

        listening = scored | "AudioTextListen" >> beam.ParDo(LoadAudio(store))
        scored, bad_clap = listening | "AudioTextScores" >> ScoreAudioText(
            cfg.clap, Batching(max_batch_size=cfg.clap.batch_size, resource_hints=cfg.resources.hints()))
        scored = scored | "AudioTextDone" >> beam.Map(drop_audio)
        rejects.append(bad_clap)
    return scored, rejects

