"""Encodes a clip's PCM (FLAC by default), puts the bytes in the audio store and drops the PCM:
from here on the clip's audio travels by reference (transforms/audio/store.py)."""

from __future__ import annotations

import dataclasses
import io

import apache_beam as beam
import numpy as np
import soundfile as sf

from tunescribe.schemas import Clip
from tunescribe.transforms.audio.store import AudioStore, read_pcm

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
    def __init__(self, store: AudioStore, fmt: str = "flac"):
        if fmt not in FORMATS:
            raise ValueError(f"audio format must be one of {sorted(FORMATS)}, not {fmt!r}")
        self.store, self.fmt = store, fmt

    def process(self, clip: Clip):
        data, ext = encode_pcm(clip.samples, clip.sample_rate, self.fmt), file_extension(self.fmt)
        yield dataclasses.replace(clip, audio_sha256=self.store.put(data, ext), audio_size=len(data),
                                  audio_format=ext, samples=None)


class LoadAudio(beam.DoFn):
    """Clip -> the clip with its PCM read back from the store, for a model stage that listens to it;
    `drop_audio` after that stage lets the PCM go again."""

    def __init__(self, store: AudioStore):
        self.store = store

    def process(self, clip: Clip):
        samples, _ = read_pcm(self.store.get(clip.audio_sha256, clip.audio_format))
        yield dataclasses.replace(clip, samples=samples)


def drop_audio(clip: Clip) -> Clip:
    return dataclasses.replace(clip, samples=None) if clip.samples is not None else clip
