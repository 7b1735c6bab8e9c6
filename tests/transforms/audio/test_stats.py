"""Audio stats on signals whose values are known."""

import numpy as np
import pytest
from audio_files import tone

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


# --- loudness, true peak, spectrum and speech share ------------------------------------------

import json  # noqa: E402

import apache_beam as beam  # noqa: E402
import soxr  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

from tunescribe.schemas import STAT_FIELDS, Clip, Provenance  # noqa: E402
from tunescribe.transforms.audio import loudness  # noqa: E402
from tunescribe.transforms.audio.decode import decode_audio  # noqa: E402
from tunescribe.transforms.audio.stats import ComputeAudioStats  # noqa: E402
from tunescribe.transforms.audio.vad import SpeechDetector  # noqa: E402

AUDIO_STATS = ["duration_s", "peak_dbfs", "true_peak_dbtp", "rms_dbfs", "loudness_lufs", "loudness_range_lu",
               "clipped_ratio", "silence_ratio", "upper_freq_hz", "spectral_bandwidth_hz", "speech_ratio"]


def sine(seconds, rate, freq=997.0, amp=1.0, phase=0.0):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)[None, :]


def test_bs1770_reference_level():
    # BS.1770: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS; -20 dB lower, -23.01.
    for rate in (48000, 44100, 16000):
        assert audio_stats(sine(5, rate, amp=0.1), rate)["loudness_lufs"] == pytest.approx(-23.01, abs=0.05)


@pytest.mark.parametrize("rate", [48000, 44100, 22050])
def test_integrated_loudness_matches_pyloudnorm(rate):
    pyln = pytest.importorskip("pyloudnorm")
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal((2, rate * 6)) * np.linspace(0.02, 0.3, rate * 6)).astype(np.float32)
    x[:, rate: 2 * rate] *= 0.001  # a quiet second the gates must drop
    ours = audio_stats(x, rate)["loudness_lufs"]
    assert ours == pytest.approx(pyln.Meter(rate).integrated_loudness(x.T.astype(np.float64)), abs=0.1)


def test_loudness_range_of_the_ebu_step_signal():
    # EBU Tech 3342 test signal: 20 s at -20 LUFS, then 20 s at -30 LUFS -> LRA 10 LU.
    rate = 16000
    x = np.concatenate([sine(20, rate, 1000, 10 ** (-16.99 / 20)), sine(20, rate, 1000, 10 ** (-26.99 / 20))], axis=1)
    s = audio_stats(x, rate)
    assert s["loudness_range_lu"] == pytest.approx(10.0, abs=0.2)
    assert audio_stats(sine(2, rate), rate)["loudness_range_lu"] == 0.0  # one short-term window: no range


@pytest.mark.parametrize("rate,channels", [(48000, 1), (44100, 2)])
def test_k_weighting_is_scipys_sosfilt_bit_for_bit(rate, channels):
    import scipy.signal

    x = np.random.default_rng(channels).standard_normal((channels, 3 * rate)).astype(np.float32) * 0.3
    expected = scipy.signal.sosfilt(loudness._k_weighting32(rate), x, axis=-1)
    assert loudness._sosfilt_kernel() is not None  # this scipy has it: the test compares the kernel, not the fallback
    assert np.array_equal(loudness.k_weighted(x, rate), expected)


def test_measuring_a_clip_does_not_import_scipy_signal():
    """What the kernel is loaded for: scipy.signal brings scipy.stats and ~70 MiB with it."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from tunescribe.transforms.audio.stats import audio_stats\n"
            "audio_stats(np.random.default_rng(0).standard_normal((1, 48000)).astype(np.float32) * 0.1, 48000)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('scipy.signal', 'scipy.stats'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.signal._sosfilt']"


def test_true_peak_finds_the_peak_between_samples():
    # A sine at a quarter of the rate, 45 degrees off: every sample sits at 0.707 of the peak.
    x = sine(1, 48000, 12000, 1.0, np.pi / 4)
    s = audio_stats(x, 48000)
    assert s["peak_dbfs"] == pytest.approx(-3.01, abs=0.02)
    assert s["true_peak_dbtp"] == pytest.approx(0.0, abs=0.25)


@pytest.mark.parametrize("scale", [1.0, 0.001])
def test_true_peak_pruning_equals_interpolating_everything(scale):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((2, 48000)) * 0.1 * scale).astype(np.float32)
    x[1, 30000:30010] = np.array([0.9, -0.9] * 5, np.float32) * scale  # one burst far above the rest
    padded = np.pad(x, ((0, 0), (12, 12)))
    views = np.lib.stride_tricks.sliding_window_view(padded, 12, axis=1)
    everything = float(np.abs(views @ loudness._TRUE_PEAK_PHASES[:, ::-1].T).max())
    assert loudness.true_peak(x, float(np.abs(x).max())) == pytest.approx(everything, rel=1e-6)


def test_upper_frequency_catches_upsampled_audio():
    rng = np.random.default_rng(1)
    full = (rng.standard_normal(48000 * 3) * 0.1).astype(np.float32)
    band_limited = soxr.resample((rng.standard_normal(16000 * 3) * 0.1).astype(np.float32), 16000, 48000)
    s_full = audio_stats(full[None], 48000)
    s_up = audio_stats(band_limited.astype(np.float32)[None], 48000)
    assert s_full["upper_freq_hz"] > 23000
    assert 7000 < s_up["upper_freq_hz"] < 8500
    assert s_up["spectral_bandwidth_hz"] < s_full["spectral_bandwidth_hz"]
    assert audio_stats(sine(2, 48000, 1000, 0.5), 48000)["spectral_bandwidth_hz"] < 200


def test_speech_share_on_synthetic_signals():
    detector = SpeechDetector()
    assert detector.speech_ratio(np.zeros(16000, np.float32), 16000) == 0.0
    assert detector.speech_ratio(sine(3, 48000, 440, 0.5)[0], 48000) < 0.1
    assert detector.probabilities(np.zeros(100, np.float32), 16000).shape == (1,)


@pytest.fixture(scope="module")
def dev_stats(audio_dev):
    rows = [json.loads(line) for line in (audio_dev / "manifest.jsonl").read_text().splitlines() if line.strip()]
    detector = SpeechDetector()
    out = {}
    for row in rows:
        samples = decode_audio(str(audio_dev / row["file"]), 48000, 1)
        out[row["file"]] = (row["kind"], audio_stats(samples, 48000, speech=detector))
    return out


def test_speech_clip_has_speech_and_music_does_not(dev_stats):
    speech = [s["speech_ratio"] for kind, s in dev_stats.values() if kind.startswith("speech")]
    music = [s["speech_ratio"] for kind, s in dev_stats.values() if kind == "music"]
    assert len(speech) == 1 and len(music) == 8
    print(f"\nspeech share: speech {speech}, music max {max(music):.3f}")
    assert speech[0] > 0.7
    assert max(music) < 0.05


def test_silence_clip_is_silent_and_ui_sounds_are_short(dev_stats):
    [silence] = [s for kind, s in dev_stats.values() if kind == "silence"]
    assert silence["silence_ratio"] == 1.0 and silence["loudness_lufs"] <= -70.0
    ui = [s for kind, s in dev_stats.values() if kind.startswith("non-music")]
    assert len(ui) == 4 and all(s["duration_s"] < 2.0 for s in ui)
    loud = [s for kind, s in dev_stats.values() if kind in ("music", "speech (TTS)")]
    assert all(s["silence_ratio"] < 0.2 and -40 < s["loudness_lufs"] < -5 for s in loud)


def test_stage_stores_every_stat_field():
    clip = Clip(key="k", source_id="s", clip_index=0, start_s=0.0, end_s=2.0, sample_rate=16000, channels=1,
                provenance=Provenance("in", "uri", "0", "h"), samples=sine(2, 16000, 440, 0.5))
    with beam.Pipeline() as p:
        keys = p | beam.Create([clip]) | beam.ParDo(ComputeAudioStats()) | beam.Map(lambda c: sorted(c.stats))
        assert_that(keys, equal_to([sorted(AUDIO_STATS)]))
    assert set(AUDIO_STATS) <= set(STAT_FIELDS)  # every stat it writes is a persisted column


def test_sequence_vad_matches_the_streaming_model(audio_dev):
    # The one-call sequence export must give what silero's frame-by-frame ONNX model gives.
    import os

    import onnxruntime as ort

    from tunescribe.transforms.audio import vad

    audio = decode_audio(str(audio_dev / "speech_en.ogg"), 16000, 1)[0][: 16000 * 3]
    ours = SpeechDetector().probabilities(audio, 16000)
    stream = ort.InferenceSession(os.path.join(os.path.dirname(vad.silero_model_path()), "silero_vad.onnx"),
                                  providers=["CPUExecutionProvider"])
    state, context, theirs = np.zeros((2, 1, 128), np.float32), np.zeros((1, 64), np.float32), []
    padded = np.pad(audio, (0, -len(audio) % 512))
    for lo in range(0, len(padded), 512):
        x = np.concatenate([context, padded[None, lo: lo + 512]], axis=1)
        out, state = stream.run(None, {"input": x, "state": state, "sr": np.array(16000, np.int64)})
        theirs.append(out[0, 0])
        context = x[:, -64:]
    assert ours.shape == (len(theirs),)
    np.testing.assert_allclose(ours, np.array(theirs), atol=2e-3)
