"""Encodes a clip's PCM for storage (FLAC by default) and drops the PCM from the record."""

from __future__ import annotations

import dataclasses
import io

import apache_beam as beam
import numpy as np
import soundfile as sf

from tunescribe.schemas import Clip

# format name -> (libsndfile container, sample subtype). Only lossless formats: libsndfile's Ogg
# writer picks a random stream serial, which would break byte-identical reruns.
FORMATS = {
    "flac": ("FLAC", "PCM_16"),
    "flac24": ("FLAC", "PCM_24"),
    "wav": ("WAV", "PCM_16"),
}


def encode_pcm(samples: np.ndarray, rate: int, fmt: str = "flac") -> bytes:
    """(channels, n) float32 -> encoded bytes. libsndfile writes no timestamps: same PCM, same bytes."""
    container, subtype = FORMATS[fmt]
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples.T, -1.0, 1.0), rate, format=container, subtype=subtype)
    return buf.getvalue()


def file_extension(fmt: str) -> str:
    return FORMATS[fmt][0].lower()


class EncodeAudio(beam.DoFn):
    def __init__(self, fmt: str = "flac"):
        if fmt not in FORMATS:
            raise ValueError(f"audio format must be one of {sorted(FORMATS)}, not {fmt!r}")
        self.fmt = fmt

    def process(self, clip: Clip):
        audio = encode_pcm(clip.samples, clip.sample_rate, self.fmt)
        yield dataclasses.replace(clip, audio=audio, audio_format=file_extension(self.fmt), samples=None)
