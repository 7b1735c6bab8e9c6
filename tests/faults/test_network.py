"""Network faults in ONE real build: a manifest of HTTP URLs and video ids served by a real HTTP
server on 127.0.0.1 (tests/support/media_server.py), each failing its own way. Expected: every faulty
item is a reject of stage `fetch` with a specific reason, every good item lands, no download
hangs the run (every read has a timeout, every body a minimum rate and a size cap), and
ingested = accepted + rejected.

The run is short because the config's network settings are: timeout 0.5 s, one retry."""

from __future__ import annotations

import json

import pytest
from audio_files import write_audio
from fault_helpers import Books, build_under_watchdog
from media_server import serving

pytestmark = pytest.mark.faults

CONFIG = """
name: netfaults
output: out
inputs:
  - type: manifest
    path: items.jsonl
    columns: {{id: id, path: path, youtube_id: ytid, tags: tags, start: start, end: end}}
youtube: {{url_template: "{server}/watch?v={{id}}"}}
remote: {{timeout_s: 0.5, retries: 1, backoff_s: 0.01, max_backoff_s: 0.02, max_bytes: 200000,
          min_bytes_per_s: 8192, temp_dir: fetch-tmp}}
segment: {{window_s: 2.0, min_tail_s: 0.5}}
quality: {{min_duration_s: 0.5}}
audio: {{sample_rate: 16000}}
stats: {{speech: false}}
attributes: {{extractors: []}}
"""

# id -> (what is injected, the row's audio, the outcome the test expects)
ITEMS = {
    "local": ("good local file", {"path": "audio/local.wav"}, "accepted"),
    "http_ok": ("good HTTP download", {"path": "{server}/audio/tone.ogg"}, "accepted"),
    "chunked_ok": ("good chunked download (no Content-Length)", {"path": "{server}/chunked/small.wav"}, "accepted"),
    "video_ok": ("good yt-dlp download", {"ytid": "vid01"}, "accepted"),
    "http_404": ("http 404", {"path": "{server}/status/404/gone.ogg"}, "reject fetch/unavailable"),
    "http_500": ("http 500 (retried)", {"path": "{server}/status/500/broken.ogg"}, "reject fetch/server_error"),
    "http_timeout": ("http timeout (headers, then silence)", {"path": "{server}/stall/tone.ogg"},
                     "reject fetch/timeout"),
    "slow_drip": ("http slow drip (640 B/s, each read inside the timeout)", {"path": "{server}/drip/small.wav"},
                  "reject fetch/too_slow"),
    "redirect_loop": ("http redirect loop", {"path": "{server}/loop/0"}, "reject fetch/redirect_loop"),
    "oversized": ("http oversized body (Content-Length over max_bytes)", {"path": "{server}/audio/big.wav"},
                  "reject fetch/too_large"),
    "oversized_chunked": ("http oversized body (no Content-Length, capped while streaming)",
                          {"path": "{server}/chunked/big.wav"}, "reject fetch/too_large"),
    "lying_length": ("http lying Content-Length (body ends early)", {"path": "{server}/short/small.wav"},
                     "reject fetch/truncated"),
    "not_audio": ("http body that is not audio", {"path": "{server}/text/words.ogg"}, "reject fetch/not_audio"),
    "video_gone": ("yt-dlp video unavailable", {"ytid": "novideo"}, "reject fetch/unavailable"),
    "video_private": ("yt-dlp private video (HTTP 403 page)", {"ytid": "private01"}, "reject fetch/forbidden"),
    "video_drip": ("yt-dlp slow drip (its own downloader)", {"path": "{server}/audio/drippage.html"},
                   "reject fetch/too_slow"),
    "video_drip_section": ("yt-dlp slow drip (a section, read by ffmpeg)",
                           {"path": "{server}/audio/drippage.html", "start": 0.5, "end": 1.5}, "reject fetch/timeout"),
    "page_no_media": ("yt-dlp page without media", {"path": "{server}/audio/nomedia.html"},
                      "reject fetch/extraction_failed"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("netfaults")
    with serving(root / "served") as server:
        served = server.root
        write_audio(served / "tone.ogg", seconds=3.0)
        write_audio(served / "small.wav", seconds=2.0, freq=550.0)  # 88 KB: under the cap
        write_audio(served / "big.wav", seconds=10.0, freq=660.0)  # 441 KB: over it
        write_audio(served / "vid01.ogg", seconds=3.0, freq=330.0)
        (served / "nomedia.html").write_text("<html><body><p>Nothing to hear here.</p></body></html>")
        (served / "drippage.html").write_text('<html><body><audio src="/drip/small.wav"></audio></body></html>')
        write_audio(root / "audio" / "local.wav", seconds=3.0)
        rows = [{"id": sid, "tags": "rock,guitar",
                 **{k: v.replace("{server}", server.url) if isinstance(v, str) else v for k, v in audio.items()}}
                for sid, (_, audio, _) in ITEMS.items()]
        (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (root / "config.yaml").write_text(CONFIG.format(server=server.url))
        build_under_watchdog(root / "config.yaml")
    return Books(root / "out"), root


@pytest.mark.parametrize("source_id", list(ITEMS))
def test_each_fault_ends_as_its_own_reject(built, fault_log, source_id):
    books, _ = built
    kind, _, expected = ITEMS[source_id]
    if expected == "accepted":  # a control: good items beside the faults must land
        assert books.accepted(source_id) and not books.reasons(source_id), books.reasons(source_id)
        return
    outcome = books.record(fault_log, kind, source_id)
    assert outcome == expected, books.reasons(source_id)
    if expected.startswith("reject"):
        detail = next(r["detail"] for r in books.rejects if r["source_id"] == source_id)
        assert detail.strip(), "a reject says why"


def test_every_item_is_accounted_for_and_the_corpus_is_complete(built):
    books, root = built
    s = books.stats["sources"]
    assert (s["ingested"], s["accepted"], s["rejected"]) == (len(ITEMS), 4, len(ITEMS) - 4)
    assert books.balanced()
    assert (root / "out" / "manifest.json").is_file()
    # Failed downloads leave nothing behind in the fetch folder.
    assert [p for p in (root / "fetch-tmp").rglob("*") if p.is_file()] == []


def test_transient_failures_were_retried_and_permanent_ones_not(built):
    books, _ = built
    by_id = {r["source_id"]: r["detail"] for r in books.rejects}
    for sid in ("http_500", "http_timeout", "slow_drip", "lying_length", "video_drip", "video_drip_section"):
        assert "after 2 tries" in by_id[sid], (sid, by_id[sid])
    for sid in ("http_404", "redirect_loop", "oversized", "not_audio"):
        assert "tries" not in by_id[sid], (sid, by_id[sid])
