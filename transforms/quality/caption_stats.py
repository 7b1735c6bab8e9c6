"""Stage: computes each caption's text and consistency stats once and stores them on the caption.

Clip -> Clip whose captions carry `stats` (schemas.CAPTION_STAT_FIELDS). No decision is taken
here: the quality rules (rules.py) read these stats later, with thresholds from the config.
A score already stored by another stage (the audio-text `clap`) is kept.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam

from tunescribe.schemas import Caption, Clip
from tunescribe.transforms.quality.consistency import claim_stats
from tunescribe.transforms.quality.text import text_stats


def caption_stats(caption: Caption, clip: Clip) -> dict:
    names = (clip.artist_id, clip.track_id, clip.album_id)
    text, claims = text_stats(caption.text, names), claim_stats(caption.text, clip.tags, clip.attributes)
    stats = {**text[0], **claims[0], "findings": tuple(text[1] + claims[1])}
    kept = {k: v for k, v in (caption.stats or {}).items() if k not in stats}
    return {**kept, **{k: v for k, v in stats.items() if v is not None}}


def with_caption_stats(clip: Clip) -> Clip:
    captions = tuple(dataclasses.replace(c, stats=caption_stats(c, clip)) for c in clip.captions)
    return dataclasses.replace(clip, captions=captions)


class ComputeCaptionStats(beam.DoFn):
    def setup(self):
        self.counter = beam.metrics.Metrics.counter("quality", "captions_measured")

    def process(self, clip: Clip):
        self.counter.inc(len(clip.captions))
        yield with_caption_stats(clip)
