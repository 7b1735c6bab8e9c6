"""Measures audio quality stats per clip and stores them; the quality stage decides on them later.

Everything here runs on every clip, so it is written for speed: one mono mix, float32
throughout, energies computed once and reused (silence frames, loudness chunks), one
non-overlapping FFT pass for the long-term spectrum, and true peak interpolated only where it
could beat the sample peak. The speech share (Silero VAD) is the one costly stat; it can be
switched off in config.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import scipy.fft

from tunescribe.schemas import Clip
from tunescribe.transforms.audio.loudness import (
    FLOOR_DB,
    chunk_energies,
    db,
    integrated_loudness,
    loudness_range,
    true_peak,
)
from tunescribe.transforms.audio.settings import StatsSettings
from tunescribe.transforms.stage import Rejected

__all__ = ["FLOOR_DB", "audio_stats", "spectrum_stats", "ComputeAudioStats"]

FFT_SIZE = 2048
MAX_FFT_FRAMES = 64  # evenly spread frames (~2.7 s at 48 kHz) are enough for a long-term spectrum
# The effective upper frequency is the highest one whose long-term level is within this many dB
# of the spectrum's peak. Lossy encoders cut everything above their low-pass to ~100 dB below
# the peak; real content up to 80 dB down still counts as content.
UPPER_FREQ_RANGE_DB = 80.0
_HANN = np.hanning(FFT_SIZE).astype(np.float32)


def _hann(n: int) -> np.ndarray:
    return _HANN if n == FFT_SIZE else np.hanning(n).astype(np.float32)


def spectrum_stats(mono: np.ndarray, rate: int) -> dict:
    """Effective upper frequency and spectral bandwidth of the long-term average spectrum."""
    n_frames = mono.shape[0] // FFT_SIZE
    if n_frames == 0:
        size = 1 << max(4, int(mono.shape[0] - 1).bit_length())
        frames = np.zeros((1, size), np.float32)
        frames[0, : mono.shape[0]] = mono * _hann(mono.shape[0])
    else:
        step = max(1, -(-n_frames // MAX_FFT_FRAMES))
        frames = mono[: n_frames * FFT_SIZE].reshape(n_frames, FFT_SIZE)[::step] * _hann(FFT_SIZE)
        size = FFT_SIZE
    spectrum = scipy.fft.rfft(frames, axis=1)
    power = (np.square(spectrum.real) + np.square(spectrum.imag)).mean(axis=0)
    freqs = np.arange(power.shape[0]) * (rate / size)
    peak = float(power.max())
    if peak <= 0.0:
        return {"upper_freq_hz": 0.0, "spectral_bandwidth_hz": 0.0}
    upper = freqs[np.nonzero(power >= peak * 10.0 ** (-UPPER_FREQ_RANGE_DB / 10.0))[0][-1]]
    magnitude = np.sqrt(power)
    weights = magnitude / magnitude.sum()
    centroid = float(np.dot(weights, freqs))
    bandwidth = float(np.sqrt(np.dot(weights, (freqs - centroid) ** 2)))
    return {"upper_freq_hz": float(upper), "spectral_bandwidth_hz": bandwidth}


def audio_stats(samples: np.ndarray, rate: int, silence_dbfs: float = -60.0, frame_s: float = 0.05,
                clip_level: float = 0.999, speech=None, speech_threshold: float = 0.5) -> dict:
    """The quality stats (schemas.STAT_FIELDS) of float32 PCM shaped (channels, n).

    `speech` is a `vad.SpeechDetector`; without one the speech share is not measured."""
    samples = np.asarray(samples, dtype=np.float32)
    mono = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0)
    n = mono.shape[0]
    if n == 0:
        raise ValueError("a clip without samples has no stats")
    frame = max(1, int(frame_s * rate))
    n_frames = max(1, n // frame)
    framed = mono[: n_frames * frame].reshape(n_frames, -1) if n >= frame else mono.reshape(1, -1)
    frame_power = np.mean(np.square(framed), axis=1, dtype=np.float64)
    magnitude = np.abs(samples)
    peak = float(magnitude.max())
    chunks = chunk_energies(samples, rate)
    stats = {
        "duration_s": n / rate,
        "peak_dbfs": db(peak),
        "true_peak_dbtp": db(true_peak(samples, peak)),
        "rms_dbfs": db(float(np.sqrt(np.mean(np.square(mono), dtype=np.float64)))),
        "loudness_lufs": integrated_loudness(chunks),
        "loudness_range_lu": loudness_range(chunks),
        "clipped_ratio": float(np.count_nonzero(magnitude >= clip_level) / magnitude.size),
        "silence_ratio": float(np.mean(frame_power < 10 ** (silence_dbfs / 10.0))),
        **spectrum_stats(mono, rate),
    }
    if speech is not None:
        stats["speech_ratio"] = speech.speech_ratio(mono, rate, speech_threshold)
    return stats


class ComputeAudioStats(beam.DoFn):
    """Clip -> Clip with `stats` filled in."""

    def __init__(self, settings: StatsSettings = StatsSettings()):
        self.silence_dbfs, self.frame_s, self.clip_level = settings.silence_dbfs, settings.frame_s, settings.clip_level
        self.speech, self.speech_threshold = settings.speech, settings.speech_threshold
        self._detector = None

    def setup(self):
        from threadpoolctl import threadpool_limits

        # One BLAS thread: Beam already runs a worker per core, and these matrices are small;
        # a BLAS pool per worker fighting for the same cores made them several times slower.
        # Set for the whole process and kept, not around this stage only: stages in concurrent
        # bundle threads (Dataflow's SDK harness, --direct_running_mode=multi_threading) would
        # otherwise run their BLAS with 1 or N threads by chance, and their floats would differ.
        threadpool_limits(limits=1, user_api="blas")
        if self.speech:
            from tunescribe.transforms.audio.vad import SpeechDetector

            self._detector = SpeechDetector()

    def process(self, clip: Clip):
        if clip.samples is None or clip.samples.shape[-1] == 0:
            raise Rejected("empty_clip", "the clip has no samples to measure")
        stats = audio_stats(clip.samples, clip.sample_rate, self.silence_dbfs, self.frame_s, self.clip_level,
                            self._detector, self.speech_threshold)
        yield dataclasses.replace(clip, stats={**clip.stats, **stats})
