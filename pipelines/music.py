"""Composition of the music-analysis stages that follow the audio stats: attributes, then tagging."""

from __future__ import annotations

from tunescribe.pipelines.config import BuildConfig
from tunescribe.transforms.stage import RunStage


def analyse_music(clips, cfg: BuildConfig):
    """clips -> (clips with attributes and model tags, [rejects...]); stages off in config are skipped."""
    rejects = []
    if cfg.attributes.extractors:
        from tunescribe.transforms.attributes.extract import ExtractAttributes, make_extractor

        extractors = tuple(make_extractor(name, cfg.attributes.key_profile) for name in cfg.attributes.extractors)
        clips, bad = clips | "MusicAttributes" >> RunStage("attributes", ExtractAttributes(extractors))
        rejects.append(bad)
    if cfg.tagging.model:
        from tunescribe.transforms.attributes.tagging import AudioClassificationHandler, TagAudio
        from tunescribe.transforms.models.base import Batching, ModelSource

        t = cfg.tagging
        source = ModelSource(t.model, t.revision, t.device, t.dtype, t.local_files_only)
        handler = AudioClassificationHandler(source, t.top_k, t.threshold, t.activation,
                                             Batching(max_batch_size=t.batch_size))
        clips, bad = clips | "AudioTags" >> TagAudio(handler)
        rejects.append(bad)
    return clips, rejects
