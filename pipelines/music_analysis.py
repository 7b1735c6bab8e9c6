"""Composition of the music analysis: attributes (per item, in the audio path), then tagging."""

from __future__ import annotations

import apache_beam as beam

from tunescribe.pipelines.config import BuildConfig
from tunescribe.transforms.audio.encode import LoadAudio, drop_audio
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.per_item import Step


def attribute_steps(cfg: BuildConfig) -> list[Step]:
    """The attribute extractors as a step of the audio path (none if off in config)."""
    if not cfg.attributes.extractors:
        return []
    from tunescribe.transforms.attributes.extract import ExtractAttributes, make_extractor

    extractors = tuple(make_extractor(name, cfg.attributes.key_profile) for name in cfg.attributes.extractors)
    return [Step("attributes", ExtractAttributes(extractors))]


def yamnet_folder(model: str) -> str | None:
    """YAMNet's folder when the tagging model names it: "yamnet" (the fetched copy, fetched now if
    missing) or a folder with its files; None for any other model."""
    from tunescribe.transforms.models.yamnet import is_yamnet_folder

    if model == "yamnet":
        from tunescribe.transforms.models.weights import fetch

        return fetch("yamnet").path
    return model if is_yamnet_folder(model) else None


def tag_audio(clips, cfg: BuildConfig, store: AudioStore):
    """clips -> (clips with model tags, [rejects]); the tagger hears each clip's PCM, read back from
    the store for that step only. Skipped when no tagging model is configured."""
    if not cfg.tagging.model:
        return clips, []
    from tunescribe.transforms.attributes.tagging import AudioClassificationHandler, TagAudio
    from tunescribe.transforms.models.base import Batching

    t = cfg.tagging
    yamnet = yamnet_folder(t.model)
    if yamnet:
        from tunescribe.transforms.attributes.yamnet_tags import TagWithYamnet
        from tunescribe.transforms.models.yamnet import YamnetHandler

        tagger = TagWithYamnet(YamnetHandler(yamnet, Batching(max_batch_size=t.batch_size)))
    else:
        tagger = TagAudio(AudioClassificationHandler(t, Batching(max_batch_size=t.batch_size,
                                                                 resource_hints=cfg.resources.hints())))
    listening = clips | "AudioTagsListen" >> beam.ParDo(LoadAudio(store))
    tagged, bad = listening | "AudioTags" >> tagger
    return tagged | "AudioTagsDone" >> beam.Map(drop_audio), [bad]
