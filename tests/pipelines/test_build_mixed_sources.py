"""One manifest mixing local files, HTTP URLs and YouTube-style ids (yt-dlp against 127.0.0.1)
builds one corpus; every row is accepted or rejected with its stage and reason."""

import json

import pyarrow.parquet as pq
import pytest
from audio_files import write_audio
from media_server import serving

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import ConfigError, load_config

CONFIG = """
name: mixed
output: out
inputs:
  - type: manifest
    path: mixed.jsonl
    columns: {{path: path, youtube_id: ytid, start: start, end: end, tags: tags, captions: caption,
               licence: licence}}
  - type: manifest
    path: {server}/manifest/remote.csv
    columns: {{path: url, tags: tags}}
youtube:
  url_template: "{server}/watch?v={{id}}"
remote:
  timeout_s: 1
  retries: 1
  backoff_s: 0.01
  temp_dir: fetch-tmp
segment: {{window_s: 2.0, min_tail_s: 0.5}}
quality: {{min_duration_s: 0.5}}
audio: {{sample_rate: 16000}}
"""

ROWS = [
    # local files
    {"path": "audio/local.wav", "tags": "piano,calm", "licence": "CC0"},
    {"path": "audio/missing.wav", "tags": "piano"},
    # HTTP URLs: direct audio, a page with <audio>, and failures
    {"path": "{server}/audio/tone.ogg", "tags": "rock,guitar", "licence": "CC-BY-4.0"},
    {"path": "{server}/page/tone.ogg.html", "start": 1, "end": 3, "tags": "jazz,piano"},
    {"path": "{server}/status/404/gone.ogg", "tags": "rock"},
    {"path": "{server}/status/500/broken.ogg", "tags": "rock"},
    {"path": "{server}/stall/tone.ogg", "tags": "rock"},
    {"path": "{server}/text/words.ogg", "tags": "rock"},
    # YouTube-style ids with time ranges and human captions (reference captions)
    {"ytid": "vid01", "start": 2, "end": 5, "tags": ["violin", "sad"], "caption": "A sad violin melody."},
    {"ytid": "vid02", "tags": ["drums", "fast"], "caption": "Drums."},
    {"ytid": "novideo", "start": 1, "end": 2, "tags": ["drums"]},
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The mixed manifest built once: (server URL, stats, clip rows, reject rows, work folder)."""
    tmp_path = tmp_path_factory.mktemp("mixed")
    with serving(tmp_path / "served") as server:
        yield _build(server, tmp_path)


def _build(media_server, tmp_path):
    root = media_server.root
    write_audio(root / "tone.ogg", seconds=5.0)
    write_audio(root / "vid01.ogg", seconds=8.0, freq=330.0)
    write_audio(root / "vid02.ogg", seconds=3.0, freq=550.0)
    write_audio(root / "remote.wav", seconds=2.5, freq=660.0)
    # (two tags each: the template caption of one tag is too short for the quality gate)
    (root / "remote.csv").write_text(f"url,tags\n{media_server.url}/audio/remote.wav,\"techno,synth\"\n"
                                     f"{media_server.url}/status/503/x.wav,techno\n")
    write_audio(tmp_path / "audio" / "local.wav", seconds=3.0)
    lines = [json.dumps(row).replace("{server}", media_server.url) for row in ROWS]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "config.yaml").write_text(CONFIG.format(server=media_server.url))
    cfg = load_config(str(tmp_path / "config.yaml"))
    stats = run_build(cfg, [])
    clips = pq.read_table(f"{cfg.output}/clips").to_pylist()
    rejects = pq.read_table(f"{cfg.output}/rejects.parquet").to_pylist()
    return media_server.url, stats, clips, rejects, tmp_path


def test_every_row_is_accepted_or_rejected(built):
    server, stats, clips, rejects, _ = built
    sources = stats["sources"]
    assert sources["ingested"] == len(ROWS) + 2 == sources["accepted"] + sources["rejected"]
    accepted = {c["source_id"] for c in clips}
    assert accepted == {"audio/local.wav", f"{server}/audio/tone.ogg", f"{server}/page/tone.ogg.html",
                        "vid01", "vid02", f"{server}/audio/remote.wav"}
    assert sources["accepted"] == len(accepted)
    whole = {(r["source_id"].replace(server, ""), r["stage"], r["reason"]) for r in rejects if r["clip_index"] is None}
    assert whole == {
        ("audio/missing.wav", "decode", "missing_file"),
        ("/status/404/gone.ogg", "fetch", "unavailable"),
        ("/status/500/broken.ogg", "fetch", "server_error"),
        ("/status/503/x.wav", "fetch", "server_error"),
        ("/stall/tone.ogg", "fetch", "timeout"),
        ("/text/words.ogg", "fetch", "not_audio"),
        ("novideo", "fetch", "unavailable"),
    }
    assert stats["rejects"]["by_stage"]["fetch"] == 6


def test_remote_clips_are_the_same_records_as_local_ones(built):
    server, _, clips, _, tmp_path = built
    by_source = {}
    for clip in clips:
        by_source.setdefault(clip["source_id"], []).append(clip)
    (local,) = by_source["audio/local.wav"][:1]
    video = sorted(by_source["vid01"], key=lambda c: c["clip_index"])
    assert set(local) == set(video[0])  # one record type
    # the range [2, 5) of vid01, cut into 2 s windows, times in the source's timeline
    assert [(c["start_s"], c["end_s"]) for c in video] == [(2.0, 4.0), (4.0, 5.0)]
    assert video[0]["provenance"]["source_uri"] == f"{server}/watch?v=vid01"
    assert video[0]["provenance"]["input_uri"] == str(tmp_path / "mixed.jsonl")
    reference = [c for c in video[0]["captions"] if c["task"] == "reference"]
    assert [(c["text"], c["backend"]) for c in reference] == [("A sad violin melody.", "human")]
    assert {(t["name"], t["category"]) for t in video[0]["tags"]} == {("violin", "instrument"), ("sad", "mood")}
    (http,) = by_source[f"{server}/audio/tone.ogg"][:1]
    assert http["licence"] == "CC-BY-4.0" and http["provenance"]["source_uri"] == f"{server}/audio/tone.ogg"
    page = by_source[f"{server}/page/tone.ogg.html"]
    assert [(c["start_s"], c["end_s"]) for c in page] == [(1.0, 3.0)]
    assert sum(c["end_s"] - c["start_s"] for c in by_source["vid02"]) == pytest.approx(3.0, abs=0.05)


def test_fetched_files_do_not_outlive_the_run(built):
    *_, tmp_path = built
    assert [p for p in (tmp_path / "fetch-tmp").rglob("*") if p.is_file()] == []


def test_bad_fetch_config_is_refused_before_any_work(tmp_path):
    (tmp_path / "m.csv").write_text("path\na.ogg\n")
    (tmp_path / "c.yaml").write_text(
        "name: x\noutput: out\ninputs: [{type: manifest, path: m.csv}]\n"
        "youtube: {url_template: 'https://example.invalid/watch', proxy: 'ftp://p'}\n"
        "remote: {max_bytes: lots, per_host: 0}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(tmp_path / "c.yaml"))
    message = str(exc.value)
    for key in ("youtube.url_template", "youtube.proxy", "remote.max_bytes", "remote.per_host"):
        assert key in message
    (tmp_path / "c.yaml").write_text("name: x\noutput: out\ninputs: [{type: manifest, path: m.csv, preset: nope}]\n"
                                     "youtube: {sleep_s: 2, max_sleep_s: 1}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(tmp_path / "c.yaml"))
    assert "inputs.0.manifest.preset" in str(exc.value) and "max_sleep_s must be at least sleep_s" in str(exc.value)
    (tmp_path / "c.yaml").write_text("name: x\noutput: out\ninputs: [{type: manifest, path: m.csv}]\n"
                                     "youtube: {cookies: no-such-cookies.txt}\n")
    from tunescribe.pipelines.config import check_inputs

    with pytest.raises(ConfigError, match="youtube.cookies: no file at"):
        check_inputs(load_config(str(tmp_path / "c.yaml")))
