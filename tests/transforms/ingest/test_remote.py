"""Remote fetches against a real HTTP server on 127.0.0.1: each failure is a Rejected with its class."""

import threading

import fsspec
import pytest
from audio_files import write_audio
from media_server import media_server  # noqa: F401 - the fixture

from tunescribe.transforms.ingest.remote import (
    RemoteOptions,
    fetch_http,
    fetch_object,
    http_filesystem,
    open_remote,
    probe_http,
    sniff,
)
from tunescribe.transforms.stage import Rejected

FAST = RemoteOptions(timeout_s=0.5, retries=2, backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def served(media_server):  # noqa: F811
    write_audio(media_server.root / "tone.ogg", seconds=2.0)
    write_audio(media_server.root / "tone.wav", seconds=1.0)
    return media_server


def fetch(server, path, tmp_path, options=FAST):
    dest = tmp_path / "out.audio"
    kind = fetch_http(server.url + path, str(dest), http_filesystem(options), options)
    return kind, dest


def reason_of(server, path, tmp_path, options=FAST) -> Rejected:
    with pytest.raises(Rejected) as exc:
        fetch(server, path, tmp_path, options)
    assert not (tmp_path / "out.audio").exists(), "a failed fetch leaves no file behind"
    return exc.value


def test_sniff_knows_containers_pages_and_text(served):
    ogg = (served.root / "tone.ogg").read_bytes()
    wav = (served.root / "tone.wav").read_bytes()
    assert (sniff(ogg), sniff(wav), sniff(b"ID3\x04"), sniff(b"\x00\x00\x00\x20ftypM4A "),
            sniff(b"\x1a\x45\xdf\xa3\x01"), sniff(b"\xff\xfb\x90\x00")) == ("ogg", "wav", "mp3", "mp4", "matroska", "mpeg")
    assert sniff(b"\xef\xbb\xbf<!DOCTYPE html><html>") == "html"
    assert sniff(b"just words\nand more") == "text"
    assert sniff(bytes(range(256))) is None


def test_audio_is_streamed_to_the_file_byte_for_byte(served, tmp_path):
    kind, dest = fetch(served, "/audio/tone.ogg", tmp_path)
    assert kind == "ogg" and dest.read_bytes() == (served.root / "tone.ogg").read_bytes()


def test_a_web_page_is_reported_not_saved(served, tmp_path):
    kind, dest = fetch(served, "/page/tone.ogg.html", tmp_path)
    assert kind == "html"


@pytest.mark.parametrize("path,reason", [
    ("/status/404/x.ogg", "unavailable"),
    ("/status/410/x.ogg", "unavailable"),
    ("/status/403/x.ogg", "forbidden"),
    ("/status/400/x.ogg", "http_error"),
    ("/text/x.ogg", "not_audio"),
])
def test_permanent_failures_are_not_retried(served, tmp_path, path, reason):
    assert reason_of(served, path, tmp_path).reason == reason
    assert served.gets(path) <= 1  # HEAD first; a 4xx or a non-audio body is never asked again


@pytest.mark.parametrize("path,reason", [("/status/500/x.ogg", "server_error"), ("/status/503/x.ogg", "server_error"),
                                         ("/status/429/x.ogg", "rate_limited")])
def test_transient_failures_are_retried_then_rejected(served, tmp_path, path, reason):
    rejected = reason_of(served, path, tmp_path)
    assert rejected.reason == reason and "after 3 tries" in rejected.detail
    # fsspec asks HEAD then GET before giving up on one try: 3 tries, 3 GETs.
    assert served.gets(path) == FAST.retries + 1


def test_stalled_response_times_out(served, tmp_path):
    rejected = reason_of(served, "/stall/tone.ogg", tmp_path, RemoteOptions(timeout_s=0.5, retries=1, backoff_s=0.01))
    assert rejected.reason == "timeout" and "after 2 tries" in rejected.detail


def test_refused_connection_is_a_network_error(served, tmp_path):
    dest = tmp_path / "out.audio"
    options = RemoteOptions(timeout_s=0.5, retries=0)
    with pytest.raises(Rejected) as exc:
        fetch_http("http://127.0.0.1:9/x.ogg", str(dest), http_filesystem(options), options)
    assert exc.value.reason == "network_error"


def test_flaky_server_succeeds_on_a_retry(served, tmp_path):
    kind, dest = fetch(served, "/flaky/2/tone.ogg", tmp_path)
    assert kind == "ogg" and dest.read_bytes() == (served.root / "tone.ogg").read_bytes()


def test_size_cap_from_content_length_and_while_streaming(served, tmp_path):
    size = (served.root / "tone.wav").stat().st_size
    small = RemoteOptions(timeout_s=1, retries=0, max_bytes=size - 1)
    assert reason_of(served, "/audio/tone.wav", tmp_path, small).reason == "too_large"
    # No Content-Length to trust (a stream, e.g. chunked): the cap is enforced while copying.
    with open(served.root / "tone.wav", "rb") as f, pytest.raises(Rejected) as exc:
        from tunescribe.transforms.ingest.remote import _stream_to
        _stream_to(f, str(tmp_path / "x"), size - 1, "", None)
    assert exc.value.reason == "too_large"


def test_per_host_limit_caps_concurrent_downloads(served, tmp_path):
    options = RemoteOptions(timeout_s=5, retries=0, per_host=2)
    fs = http_filesystem(options)
    errors = []

    def one(i):
        try:
            fetch_http(served.url + "/slow/tone.ogg", str(tmp_path / f"{i}.ogg"), fs, options)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert served.gets("/slow/") == 6 and served.max_in_flight == 2


def test_object_store_urls_go_through_fsspec(tmp_path, served):
    mem = fsspec.filesystem("memory")
    mem.pipe("/bucket/tone.ogg", (served.root / "tone.ogg").read_bytes())
    mem.pipe("/bucket/notes.txt", b"hello, not audio\n" * 10)
    dest = tmp_path / "o.audio"
    assert fetch_object("memory://bucket/tone.ogg", str(dest), FAST) == "ogg"
    assert dest.read_bytes() == (served.root / "tone.ogg").read_bytes()
    for uri, reason in [("memory://bucket/absent.ogg", "unavailable"), ("memory://bucket/notes.txt", "not_audio"),
                        ("nosuchscheme://bucket/x.ogg", "unsupported_scheme")]:
        with pytest.raises(Rejected) as exc:
            fetch_object(uri, str(dest), FAST)
        assert exc.value.reason == reason, uri


def test_probe_tells_why_a_media_url_fails(served):
    assert probe_http(served.url + "/audio/tone.ogg", {}, FAST) is None
    assert probe_http(served.url + "/status/404/x", {}, FAST).reason == "unavailable"
    assert probe_http(served.url + "/status/500/x", {}, FAST).reason == "server_error"
    assert probe_http(served.url + "/stall/tone.ogg", {}, FAST).reason == "timeout"
    assert probe_http(served.url + "/text/x", {}, FAST).reason == "not_audio"


def test_remote_manifest_opens_over_http(served):
    (served.root / "m.csv").write_text("path\na.ogg\n")
    with open_remote(served.url + "/manifest/m.csv").open() as f:
        assert f.read() == b"path\na.ogg\n"


def test_large_download_is_streamed_not_held_in_memory(served, tmp_path):
    import tracemalloc

    (served.root / "big.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(24 << 20))
    options = RemoteOptions(timeout_s=5, retries=0)
    fs = http_filesystem(options)
    tracemalloc.start()
    try:
        fetch_http(served.url + "/audio/big.wav", str(tmp_path / "big.wav"), fs, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "big.wav").stat().st_size == (served.root / "big.wav").stat().st_size
    assert peak < 8 << 20  # a 24 MiB body never sits in memory whole (the test server's copy aside)
