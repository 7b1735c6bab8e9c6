"""The fetch stage: remote items become local temp files the decoder reads; failures become rejects."""

import os

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from audio_files import write_audio
from media_server import media_server  # noqa: F401 - the fixture

from tunescribe.schemas import SourceItem
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.settings import AudioSettings
from tunescribe.transforms.ingest.fetch import FetchAudio, is_local
from tunescribe.transforms.ingest.remote import RemoteOptions
from tunescribe.transforms.ingest.youtube import YoutubeOptions
from tunescribe.transforms.stage import Rejected, RunStage

FAST = RemoteOptions(timeout_s=1.0, retries=1, backoff_s=0.01, max_backoff_s=0.02)


@pytest.fixture
def served(media_server):  # noqa: F811
    write_audio(media_server.root / "tone.ogg", seconds=6.0)
    write_audio(media_server.root / "vid01.ogg", seconds=8.0, freq=330.0)
    return media_server


def item(uri, start=None, end=None, source_id=None) -> SourceItem:
    return SourceItem(source_id=source_id or uri.rsplit("/", 1)[-1], uri=uri, input_uri="m.jsonl", order=(0, 1),
                      start_s=start, end_s=end)


def test_local_paths_pass_through():
    assert is_local("/data/a.ogg") and is_local("file:///data/a.ogg") and not is_local("s3://b/a.ogg")
    local = item("/data/a.ogg")
    fetch = FetchAudio(FAST)
    fetch.setup()
    try:
        assert list(fetch.process(local)) == [local]
    finally:
        fetch.teardown()


def test_fetched_copy_is_decoded_then_removed(served, tmp_path):
    fetch = FetchAudio(FAST.model_copy(update={"temp_dir": str(tmp_path / "fetch")}))
    fetch.setup()
    try:
        (direct,) = fetch.process(item(served.url + "/audio/tone.ogg", 1.0, 3.0))
        (section,) = fetch.process(item(served.url + "/watch?v=vid01", 2.0, 5.0))
        assert direct.uri == served.url + "/audio/tone.ogg" and direct.key == item(direct.uri, 1.0, 3.0).key
        assert (direct.fetched_offset_s, section.fetched_offset_s) == (0.0, 2.0)
        assert os.path.isfile(direct.fetched) and os.path.isfile(section.fetched)
        decode = DecodeAudio(AudioSettings(sample_rate=16000))
        (a,) = decode.process(direct)
        (b,) = decode.process(section)
        assert (a.offset_s, a.duration_s) == (1.0, pytest.approx(2.0, abs=1e-3))
        assert (b.offset_s, b.duration_s) == (2.0, pytest.approx(3.0, abs=1e-3))
        assert not os.path.exists(direct.fetched) and not os.path.exists(section.fetched)
    finally:
        fetch.teardown()
    assert os.listdir(tmp_path / "fetch") == []


def test_whole_download_is_cut_by_the_decoder(served):
    fetch = FetchAudio(FAST, YoutubeOptions(sections=False))
    fetch.setup()
    try:
        (got,) = fetch.process(item(served.url + "/watch?v=vid01", 2.0, 5.0))
        assert got.fetched_offset_s == 0.0
        (audio,) = DecodeAudio(AudioSettings(sample_rate=16000)).process(got)
        assert audio.duration_s == pytest.approx(3.0, abs=1e-3) and audio.offset_s == 2.0
    finally:
        fetch.teardown()


def test_cookies_file_is_copied_not_rewritten(served, tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc\n")
    before = cookies.read_bytes()
    fetch = FetchAudio(FAST, YoutubeOptions(cookies=str(cookies)))
    fetch.setup()
    try:
        (got,) = fetch.process(item(served.url + "/page/tone.ogg.html"))
        assert os.path.isfile(got.fetched)
        assert fetch.cookies != str(cookies) and os.path.isfile(fetch.cookies)
    finally:
        fetch.teardown()
    assert cookies.read_bytes() == before


def test_stage_sends_every_failure_to_the_rejects(served, tmp_path):
    url = served.url
    items = [
        item(str(write_audio(tmp_path / "local.wav", seconds=2.0)), source_id="local"),
        item(url + "/audio/tone.ogg", source_id="http"),
        item(url + "/page/tone.ogg.html", 1.0, 3.0, source_id="page"),
        item(url + "/watch?v=vid01", 2.0, 5.0, source_id="video"),
        item(url + "/status/404/a.ogg", source_id="gone"),
        item(url + "/status/500/a.ogg", source_id="broken"),
        item(url + "/stall/tone.ogg", source_id="stalled"),
        item(url + "/text/a.ogg", source_id="words"),
        item(url + "/watch?v=novideo", 1.0, 2.0, source_id="novideo"),
    ]
    with beam.Pipeline() as p:
        fetched, bad_fetch = p | beam.Create(items) | "Fetch" >> RunStage(
            "fetch", FetchAudio(FAST.model_copy(update={"temp_dir": str(tmp_path / "fetch")})))
        decoded, bad_decode = fetched | "Decode" >> RunStage("decode", DecodeAudio(AudioSettings(sample_rate=16000)))
        assert_that(decoded | beam.Map(lambda a: (a.source_id, a.offset_s, round(a.duration_s, 2))), equal_to([
            ("local", 0.0, 2.0), ("http", 0.0, 6.0), ("page", 1.0, 2.0), ("video", 2.0, 3.0),
        ]), label="decoded")
        assert_that(bad_fetch | beam.Map(lambda r: (r.source_id, r.stage, r.reason)), equal_to([
            ("gone", "fetch", "unavailable"), ("broken", "fetch", "server_error"), ("stalled", "fetch", "timeout"),
            ("words", "fetch", "not_audio"), ("novideo", "fetch", "unavailable"),
        ]), label="rejects")
        assert_that(bad_decode, equal_to([]), label="no decode rejects")
    leftovers = [f for _, _, files in os.walk(tmp_path / "fetch") for f in files]
    assert leftovers == []


def test_unexpected_scheme_is_rejected(tmp_path):
    fetch = FetchAudio(FAST)
    fetch.setup()
    try:
        with pytest.raises(Rejected) as exc:
            list(fetch.process(item("nosuchscheme://bucket/a.ogg")))
        assert exc.value.reason == "unsupported_scheme"
    finally:
        fetch.teardown()

