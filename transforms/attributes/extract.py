"""The music-attributes stage: Clip -> Clip with tempo, key and meter in `attributes`.

Each configured extractor gets the clip's mono mix at the rate it asks for (resampled once per
rate, soxr); every attribute it returns is appended with its confidence and extractor name, so
two extractors' opinions can sit side by side. A clip too short or too quiet for an attribute
simply lacks it: absence is not an error. Clips the stats stage measured as silent (below
BS.1770's -70 LUFS gate) get no attributes at all, rather than a key guessed from noise.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import soxr

from tunescribe.schemas import Clip
from tunescribe.transforms.attributes.base import AttributeExtractor
from tunescribe.transforms.audio.loudness import ABSOLUTE_GATE_LUFS


def make_extractor(name: str, key_profile: str = "albrecht") -> AttributeExtractor:
    """An extractor by its config name: "librosa" (default, ISC) or "essentia" (AGPL-3.0, optional)."""
    if name == "librosa":
        from tunescribe.transforms.attributes.librosa_backend import LibrosaExtractor

        return LibrosaExtractor(key_profile=key_profile)
    if name == "essentia":
        from tunescribe.transforms.attributes.essentia_backend import EssentiaExtractor

        return EssentiaExtractor()
    raise ValueError(f"unknown attribute extractor {name!r} (known: {', '.join(EXTRACTORS)})")


EXTRACTORS = ("librosa", "essentia")
SILENT_LUFS = ABSOLUTE_GATE_LUFS  # BS.1770's absolute gate: a clip measured below it is treated as silence


def mono_at(clip: Clip, rate: int, quality: str = "MQ") -> np.ndarray:
    """The clip's (or anything with `samples` and `sample_rate`) mono mix at `rate`, float32."""
    samples = clip.samples
    mono = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0)
    if clip.sample_rate == rate:
        return np.asarray(mono, dtype=np.float32)
    return np.asarray(soxr.resample(mono, clip.sample_rate, rate, quality=quality), dtype=np.float32)


class ExtractAttributes(beam.DoFn):
    """Clip -> Clip with the extractors' attributes appended."""

    def __init__(self, extractors: tuple[AttributeExtractor, ...]):
        self.extractors = tuple(extractors)

    def setup(self):
        from threadpoolctl import threadpool_limits

        # One BLAS thread for the whole process, as ComputeAudioStats.setup sets it and for the same
        # reasons (a per-call limit would let concurrent bundle threads run with 1 or N by chance).
        threadpool_limits(limits=1, user_api="blas")
        for extractor in self.extractors:
            extractor.setup()

    def process(self, clip: Clip):
        if clip.stats.get("loudness_lufs", 0.0) <= SILENT_LUFS:  # nothing to hear: no tempo, key or meter
            yield clip
            return
        resampled: dict[int, np.ndarray] = {}
        found = []
        for extractor in self.extractors:
            if extractor.rate not in resampled:
                resampled[extractor.rate] = mono_at(clip, extractor.rate)
            found.extend(extractor.extract(resampled[extractor.rate]))
        yield dataclasses.replace(clip, attributes=clip.attributes + tuple(found))
