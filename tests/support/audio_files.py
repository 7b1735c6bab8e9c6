"""Small synthetic audio: a sine tone, as an array or written to a file."""

from __future__ import annotations

import pathlib

import numpy as np
import soundfile as sf


def tone(seconds: float, rate: int = 22050, freq: float = 440.0, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    """A sine tone, float32 shaped (frames, channels) as soundfile writes it."""
    t = np.arange(int(seconds * rate)) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def write_audio(path, seconds: float = 5.0, rate: int = 22050, freq: float = 440.0, amp: float = 0.5,
                channels: int = 1, **kwargs) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, rate, freq, amp, channels), rate, **kwargs)
    return path
