"""Measures basic audio stats per clip and stores them; the quality stage decides on them later."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np

from tunescribe.schemas import Clip

FLOOR_DB = -120.0  # reported for digital silence instead of -inf


def _db(x: float) -> float:
    return float(max(FLOOR_DB, 20.0 * np.log10(x))) if x > 0 else FLOOR_DB


def audio_stats(samples: np.ndarray, rate: int, silence_dbfs: float = -60.0, frame_s: float = 0.05,
                clip_level: float = 0.999) -> dict:
    """duration, peak/RMS in dBFS, clipped-sample ratio and silent-frame ratio of (channels, n) PCM."""
    mono = samples.mean(axis=0, dtype=np.float64)
    n = mono.shape[0]
    frame = max(1, int(frame_s * rate))
    n_frames = max(1, n // frame)
    framed = mono[: n_frames * frame].reshape(n_frames, -1) if n >= frame else mono.reshape(1, -1)
    frame_rms = np.sqrt(np.mean(framed**2, axis=1))
    return {
        "duration_s": n / rate,
        "peak_dbfs": _db(float(np.max(np.abs(samples))) if samples.size else 0.0),
        "rms_dbfs": _db(float(np.sqrt(np.mean(mono**2))) if n else 0.0),
        "clipped_ratio": float(np.mean(np.abs(samples) >= clip_level)) if samples.size else 0.0,
        "silence_ratio": float(np.mean(frame_rms < 10 ** (silence_dbfs / 20.0))),
    }


class ComputeAudioStats(beam.DoFn):
    """Clip -> Clip with `stats` filled in."""

    def __init__(self, silence_dbfs: float = -60.0, frame_s: float = 0.05, clip_level: float = 0.999):
        self.silence_dbfs, self.frame_s, self.clip_level = silence_dbfs, frame_s, clip_level

    def process(self, clip: Clip):
        stats = audio_stats(clip.samples, clip.sample_rate, self.silence_dbfs, self.frame_s, self.clip_level)
        yield dataclasses.replace(clip, stats={**clip.stats, **stats})
