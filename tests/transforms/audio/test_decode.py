"""Decoding: any ffmpeg format to float32 at the target rate and channels; bad files are rejected."""

import io

import numpy as np
import pytest
import soundfile as sf
from audio_files import tone, write_audio

from tunescribe.schemas import SourceItem
from tunescribe.transforms.audio.decode import DecodeAudio, decode_audio
from tunescribe.transforms.audio.settings import AudioSettings
from tunescribe.transforms.stage import Rejected


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG"])
def test_decodes_and_resamples(tmp_path, fmt):
    path = write_audio(tmp_path / f"a.{fmt.lower()}", seconds=3.0, rate=22050, freq=440.0, channels=2, format=fmt)
    x = decode_audio(str(path), 48000, 1)
    assert x.dtype == np.float32 and x.shape[0] == 1
    assert abs(x.shape[1] - 3 * 48000) <= 48  # soxr keeps the length to within a millisecond
    spectrum = np.abs(np.fft.rfft(x[0, 48000:96000]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # the tone is still 440 Hz after resampling (1 Hz bins)


def test_mono_to_stereo_and_time_range(tmp_path):
    path = write_audio(tmp_path / "a.flac", seconds=6.0, rate=16000)
    x = decode_audio(str(path), 16000, 2, start_s=1.25, end_s=3.75)
    assert x.shape == (2, 40000)
    np.testing.assert_allclose(x[0], x[1])
    np.testing.assert_allclose(x[0, :100], tone(6.0, 16000)[20000:20100, 0], atol=1e-4)  # starts at 1.25 s


def test_start_past_the_end_is_rejected(tmp_path):
    path = write_audio(tmp_path / "a.wav", seconds=2.0)
    with pytest.raises(Rejected, match="bad_time_range"):
        decode_audio(str(path), 16000, 1, start_s=5.0)


def test_over_long_source_is_rejected(tmp_path):
    path = write_audio(tmp_path / "a.wav", seconds=4.0)
    with pytest.raises(Rejected, match="too_long"):
        decode_audio(str(path), 16000, 1, max_seconds=3.0)


def _reason(item):
    with pytest.raises(Rejected) as exc:
        list(DecodeAudio(AudioSettings(sample_rate=16000)).process(item))
    return exc.value.reason


def _item(path):
    return SourceItem(source_id=path.name, uri=str(path), input_uri="m", order=(0, 0))


def test_bad_files_are_rejected_with_specific_reasons(tmp_path):
    good = write_audio(tmp_path / "good.flac", seconds=8.0)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("not audio at all\n" * 20)
    data = good.read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 3])
    ogg = write_audio(tmp_path / "x.ogg", seconds=8.0, format="OGG").read_bytes()
    (tmp_path / "cut.ogg").write_bytes(ogg[: len(ogg) // 2])
    wav = write_audio(tmp_path / "x.wav", seconds=8.0).read_bytes()
    (tmp_path / "cut.wav").write_bytes(wav[: len(wav) // 3])
    assert _reason(_item(tmp_path / "missing.flac")) == "missing_file"
    assert _reason(_item(tmp_path / "empty.wav")) == "empty_file"
    assert _reason(_item(tmp_path / "text.mp3")) == "not_audio"
    for cut in ("cut.flac", "cut.ogg", "cut.wav"):
        assert _reason(_item(tmp_path / cut)) in ("truncated", "corrupt_audio"), cut
    (out,) = DecodeAudio(AudioSettings(sample_rate=16000)).process(_item(good))
    assert out.samples.shape == (1, 8 * 16000) and out.sample_rate == 16000


def test_nan_samples_are_rejected(tmp_path):
    x = tone(2.0, 16000)
    x[100] = np.nan
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype="FLOAT")
    buf.seek(0)
    with pytest.raises(Rejected, match="non_finite_samples"):
        decode_audio(buf, 16000, 1)
