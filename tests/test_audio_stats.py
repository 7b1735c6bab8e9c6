"""Audio stats on signals whose values are known."""

import numpy as np
import pytest

from conftest import tone
from tunescribe.transforms.audio.stats import FLOOR_DB, audio_stats


def test_sine_levels():
    x = tone(2.0, 16000, amp=0.5).T
    s = audio_stats(x, 16000)
    assert s["duration_s"] == pytest.approx(2.0)
    assert s["peak_dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert s["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert s["clipped_ratio"] == 0 and s["silence_ratio"] == 0


def test_silence_and_partial_silence():
    assert audio_stats(np.zeros((1, 16000), np.float32), 16000)["silence_ratio"] == 1.0
    assert audio_stats(np.zeros((1, 16000), np.float32), 16000)["peak_dbfs"] == FLOOR_DB
    x = tone(2.0, 16000, amp=0.5).T.copy()
    x[:, :8000] = 0  # first quarter silent
    assert audio_stats(x, 16000)["silence_ratio"] == pytest.approx(0.25)


def test_clipping():
    x = np.clip(tone(1.0, 16000, amp=2.0).T, -1, 1)
    assert audio_stats(x, 16000)["clipped_ratio"] > 0.5
