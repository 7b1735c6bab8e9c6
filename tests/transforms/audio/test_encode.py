"""FLAC encoding: lossless to 16 bits, and the same bytes for the same PCM."""

import io

import numpy as np
import soundfile as sf
from audio_files import tone

from tunescribe.transforms.audio.encode import encode_pcm


def test_flac_round_trip_and_determinism():
    x = tone(1.5, 24000, amp=0.7, channels=2).T
    data = encode_pcm(x, 24000, "flac")
    assert data[:4] == b"fLaC" and data == encode_pcm(x.copy(), 24000, "flac")
    y, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert rate == 24000 and y.shape == (36000, 2)
    np.testing.assert_allclose(y.T, x, atol=1 / 32768 + 1e-6)


def test_out_of_range_samples_are_clipped_not_wrapped():
    y, _ = sf.read(io.BytesIO(encode_pcm(np.array([[1.7, -3.0, 0.5]], np.float32), 8000)), dtype="float32")
    assert y[0] > 0.99 and y[1] < -0.99
