"""Stage: audio-text agreement of each caption, and of the clip's plain tag string.

Runs a CLAP-style dual encoder (models/clap.py) through Beam's RunInference and stores
`Caption.stats["clap"]` and `Clip.stats["clap_tags"]`. The rules then apply AudioSetCaps' relative
test (a caption must score at least as high as the bare tags) and an absolute floor; this stage
decides nothing.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler

from tunescribe.schemas import Clip
from tunescribe.transforms.models.base import Batching, ModelSource
from tunescribe.transforms.models.clap import EXAMPLE_RATE, ClapScorer
from tunescribe.transforms.models.generation import resample
from tunescribe.transforms.stage import RunModel, reject_of


def tag_string(clip: Clip) -> str:
    """The plain tag string, as AudioSetCaps compares captions against it."""
    return ", ".join(t.name for t in clip.tags)


def clap_example(clip: Clip) -> tuple[np.ndarray, list[str]]:
    return resample(clip.samples.mean(axis=0), clip.sample_rate, EXAMPLE_RATE), [c.text for c in clip.captions] + [tag_string(clip) or "music"]


def with_scores(clip: Clip, scores) -> Clip:
    scores = [float(s) for s in np.asarray(scores).ravel()]
    captions = tuple(dataclasses.replace(c, stats={**c.stats, "clap": s}) for c, s in zip(clip.captions, scores))
    stats = {**clip.stats, "clap_tags": scores[-1]} if clip.tags else dict(clip.stats)
    return dataclasses.replace(clip, captions=captions, stats=stats)


class ScoreAudioText(beam.PTransform):
    """Clips (with PCM) -> (clips with clap scores, rejects of clips the model failed on)."""

    def __init__(self, source: ModelSource, batching: Batching = Batching()):
        super().__init__()
        self.handler = ClapScorer(source, batching)

    def expand(self, clips):
        with_captions = clips | "HasCaptions" >> beam.Filter(lambda c: bool(c.captions))
        without = clips | "NoCaptions" >> beam.Filter(lambda c: not c.captions)
        main, other = (
            with_captions
            | "Example" >> beam.Map(lambda c: (c, clap_example(c)))
            | "Clap" >> RunModel(KeyedModelHandler(self.handler), "clap")
        )
        scored = main | "Store" >> beam.MapTuple(with_scores)  # the handler predicts plain score arrays
        rejects = other | "ToReject" >> beam.MapTuple(lambda keyed, rejected: reject_of("clap", keyed[0], rejected))
        return (scored, without) | "All" >> beam.Flatten(), rejects
