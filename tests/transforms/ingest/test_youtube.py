"""yt-dlp for real against a local HTTP server (its generic extractor reads <audio> pages)."""

import sys

import av
import numpy as np
import pytest
import soundfile as sf
import yt_dlp
from audio_files import write_audio
from media_server import media_server  # noqa: F401 - the fixture
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from tunescribe.transforms.audio.decode import decode_audio
from tunescribe.transforms.ingest.remote import RemoteOptions
from tunescribe.transforms.ingest.youtube import (
    YoutubeOptions,
    _Log,
    _params,
    classify_ytdlp_error,
    download_audio,
    find_ffmpeg,
    site_extractor_for,
)
from tunescribe.transforms.stage import Rejected

FAST = RemoteOptions(timeout_s=1.0, retries=0, backoff_s=0.01)


@pytest.fixture
def served(media_server):  # noqa: F811
    write_audio(media_server.root / "tone.ogg", seconds=6.0)
    write_audio(media_server.root / "vid01.ogg", seconds=8.0, freq=330.0)
    (media_server.root / "notes.ogg").write_text("not audio at all\n" * 40)
    (media_server.root / "nomedia.html").write_text("<html><body><p>Nothing to hear here.</p></body></html>")
    # second k of steps.ogg is a (200 + 100 k) Hz tone: tells where a section really starts
    rate = 22050
    steps = np.concatenate([0.5 * np.sin(2 * np.pi * (200 + 100 * k) * np.arange(rate) / rate) for k in range(8)])
    sf.write(media_server.root / "steps.ogg", steps.astype(np.float32), rate)
    return media_server


def tone_hz(samples, rate=22050) -> list[int]:
    """The dominant frequency of each half second."""
    half = rate // 2
    return [round(np.argmax(np.abs(np.fft.rfft(samples[i:i + half]))) * rate / half)
            for i in range(0, len(samples) - half + 1, half)]


def duration(path) -> float:
    with av.open(path) as c:
        stream = c.streams.audio[0]
        frames = sum(f.samples for f in c.decode(stream))
        return frames / stream.sample_rate


def download(server, path, tmp_path, start=None, end=None, opts=YoutubeOptions()):
    out = tmp_path / "dl"
    out.mkdir(exist_ok=True)
    return download_audio(server.url + path, start, end, str(out), opts, FAST)


def test_ffmpeg_comes_from_imageio_ffmpeg():
    import imageio_ffmpeg

    assert find_ffmpeg() == imageio_ffmpeg.get_ffmpeg_exe()
    assert find_ffmpeg("/opt/ffmpeg") == "/opt/ffmpeg"


def test_site_urls_are_recognised():
    assert site_extractor_for("https://www.youtube.com/watch?v=dQw4w9WgXcQ") == "Youtube"
    assert site_extractor_for("http://127.0.0.1:8000/page.html") is None


def test_page_with_audio_tag_downloads_whole(served, tmp_path):
    path, offset = download(served, "/page/tone.ogg.html", tmp_path)
    assert offset == 0.0 and path.endswith(".ogg")
    assert duration(path) == pytest.approx(6.0, abs=0.05)


def test_time_range_downloads_only_that_section(served, tmp_path):
    path, offset = download(served, "/watch?v=vid01", tmp_path, start=2.0, end=5.0)
    assert offset == 2.0
    assert duration(path) == pytest.approx(3.0, abs=0.01)  # ffmpeg cut it at the source
    assert served.gets("/audio/vid01"), "the media was read from the server"


def test_section_is_cut_exactly_and_losslessly(served, tmp_path):
    path, offset = download(served, "/page/steps.ogg.html", tmp_path, start=2.0, end=5.0)
    with av.open(path) as c:
        assert c.streams.audio[0].codec_context.name == "flac"
    samples = decode_audio(path, 22050, 1)[0]
    assert len(samples) == pytest.approx(3 * 22050, abs=64)
    assert tone_hz(samples) == [400, 400, 500, 500, 600, 600]  # seconds 2, 3 and 4 of the source


def test_without_sections_the_whole_audio_comes(served, tmp_path):
    path, offset = download(served, "/watch?v=vid01", tmp_path, 2.0, 5.0, YoutubeOptions(sections=False))
    assert offset == 0.0 and duration(path) == pytest.approx(8.0, abs=0.05)


@pytest.mark.parametrize("path,section,reason", [
    ("/status/404/watch", None, "unavailable"),  # the page itself
    ("/status/500/watch", None, "server_error"),
    ("/page/missing.ogg.html", None, "unavailable"),  # the page is there, its media is not
    ("/page/missing.ogg.html", (1.0, 2.0), "unavailable"),  # same, through ffmpeg (probed)
    ("/audio/nomedia.html", None, "extraction_failed"),  # a page without media
    ("/page/notes.ogg.html", None, "not_audio"),  # media that is not audio
])
def test_failures_are_classified(served, tmp_path, path, section, reason):
    with pytest.raises(Rejected) as exc:
        download(served, path, tmp_path, *(section or (None, None)))
    assert exc.value.reason == reason, exc.value.detail


def test_stalled_media_section_times_out(served, tmp_path):
    (served.root / "stallpage.html").write_text('<html><body><audio src="/stall/tone.ogg"></audio></body></html>')
    with pytest.raises(Rejected) as exc:
        download(served, "/audio/stallpage.html", tmp_path, 1.0, 2.0)
    assert exc.value.reason == "timeout", exc.value.detail


def _wrapped(inner):
    """A DownloadError as YoutubeDL.report_error raises it around an extractor's error."""
    try:
        raise inner
    except Exception:  # noqa: BLE001
        return DownloadError(f"ERROR: {inner}", sys.exc_info())


@pytest.mark.parametrize("inner,reason", [
    (ExtractorError("Private video. Sign in if you've been granted access to this video", expected=True), "private"),
    (GeoRestrictedError("The uploader has not made this video available in your country."), "geo_blocked"),
    (ExtractorError("Sign in to confirm your age. This video may be inappropriate for some users.", expected=True),
     "age_or_bot_check"),
    (ExtractorError("Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser", expected=True),
     "age_or_bot_check"),
    (ExtractorError("Video unavailable. This video has been removed by the uploader", expected=True), "unavailable"),
    (ExtractorError("Requested format is not available", expected=True), "extraction_failed"),
    (UnsupportedError("http://example.invalid/x"), "extraction_failed"),
    (ExtractorError("Unable to download webpage", cause=TransportError("Connection refused")), "network_error"),
    (ExtractorError("Unable to download webpage: HTTP Error 429", cause=HTTPError(
        yt_dlp.networking.Response(None, "http://x", {}, status=429))), "rate_limited"),
])
def test_site_errors_map_to_reject_classes(inner, reason):
    assert classify_ytdlp_error(_wrapped(inner)).reason == reason


def test_ffmpeg_exit_codes_map_to_classes():
    assert classify_ytdlp_error(DownloadError("ERROR: ffmpeg exited with code 183")).reason == "not_audio"
    assert classify_ytdlp_error(DownloadError("ERROR: ffmpeg exited with code 146")).reason == "timeout"
    assert classify_ytdlp_error(DownloadError("ERROR: something odd")).reason == "download_failed"


def test_config_options_reach_ytdlp(tmp_path):
    opts = YoutubeOptions(format="bestaudio[ext=m4a]", rate_limit=50000, sleep_s=1.5, max_sleep_s=3.0,
                          sleep_requests_s=0.5, proxy="socks5://127.0.0.1:1080")
    params = _params(opts, FAST, str(tmp_path), "/x/ffmpeg", (1.0, 2.0), str(tmp_path / "c.txt"), _Log())
    assert (params["format"], params["ratelimit"], params["sleep_interval"], params["max_sleep_interval"],
            params["sleep_interval_requests"], params["proxy"], params["cookiefile"]) == (
        "bestaudio[ext=m4a]", 50000, 1.5, 3.0, 0.5, "socks5://127.0.0.1:1080", str(tmp_path / "c.txt"))
    assert params["socket_timeout"] == 1.0 and params["max_filesize"] == FAST.max_bytes
    assert params["ffmpeg_location"] == "/x/ffmpeg"
    assert params["external_downloader_args"] == {"ffmpeg_i": ["-rw_timeout", "1000000"],
                                                  "ffmpeg_o": ["-vn", "-c:a", "flac"]}
    assert params["download_ranges"] and params["force_keyframes_at_cuts"]
    # and yt-dlp accepts them as they are
    with yt_dlp.YoutubeDL(params) as ydl:
        assert ydl.params["ratelimit"] == 50000
