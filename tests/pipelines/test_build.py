"""End to end on real audio (../shared/data/audio-dev) plus broken inputs, on the DirectRunner."""

import io
import json
import pathlib
import shutil

import pyarrow.parquet as pq
import pytest
import soundfile as sf
import webdataset as wds
from audio_files import write_audio

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import load_config

CONFIG = """
name: dev
output: out
inputs:
  - type: manifest
    path: {audio_dev}/manifest.jsonl
    columns: {{path: file, tags: [instrument, kind], licence: license}}
  - type: manifest
    path: bad.csv
    columns: {{path: path, id: id, tags: tags}}
"""


@pytest.fixture(scope="module")
def built(audio_dev, tmp_path_factory):
    """The same config built twice into two folders: (config, stats, stats of the rerun)."""
    work = tmp_path_factory.mktemp("build")
    data = write_audio(work / "audio" / "good.flac", seconds=6.0).read_bytes()
    (work / "audio" / "empty.flac").write_bytes(b"")
    (work / "audio" / "truncated.flac").write_bytes(data[: len(data) // 3])
    (work / "audio" / "text.mp3").write_text("I am not an mp3\n" * 50)
    (work / "bad.csv").write_text(
        "path,id,tags\naudio/good.flac,good,piano\naudio/empty.flac,empty,piano\n"
        "audio/truncated.flac,truncated,piano\naudio/text.mp3,text,piano\naudio/gone.flac,gone,piano\n"
    )
    (work / "config.yaml").write_text(CONFIG.format(audio_dev=audio_dev))
    cfg = load_config(str(work / "config.yaml"))
    stats = run_build(cfg, [])
    again = run_build(load_config(str(work / "config.yaml"), output=str(work / "again")), [])
    return cfg, stats, again


def _inputs(audio_dev):
    rows = [json.loads(line) for line in (audio_dev / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return {r["file"] for r in rows} | {"good", "empty", "truncated", "text", "gone"}


def test_every_input_is_accounted_for(built, audio_dev):
    cfg, stats, _ = built
    clips = pq.read_table(f"{cfg.output}/clips").to_pylist()
    rejects = pq.read_table(f"{cfg.output}/rejects.parquet").to_pylist()
    accepted = {c["source_id"] for c in clips}
    rejected = {r["source_id"] for r in rejects} - accepted
    assert accepted | rejected == _inputs(audio_dev)
    assert stats["sources"] == {"ingested": 19, "accepted": len(accepted), "rejected": len(rejected)}
    assert stats["sources"]["ingested"] == stats["sources"]["accepted"] + stats["sources"]["rejected"]


def test_rejects_name_stage_and_reason(built):
    cfg, _, _ = built
    reasons = {(r["source_id"], r["stage"], r["reason"]) for r in pq.read_table(f"{cfg.output}/rejects.parquet").to_pylist()}
    assert ("silence_10s.ogg", "quality", "too_silent") in reasons
    assert ("fd_bell.ogg", "quality", "too_short") in reasons
    assert {("empty", "decode", "empty_file"), ("text", "decode", "not_audio"), ("gone", "decode", "missing_file")} <= reasons
    assert ("truncated", "decode", "truncated") in reasons or ("truncated", "decode", "corrupt_audio") in reasons


def test_stats_agree_with_tables_and_shards(built):
    cfg, stats, _ = built
    clips = pq.read_table(f"{cfg.output}/clips").to_pylist()
    rejects = pq.read_table(f"{cfg.output}/rejects.parquet").to_pylist()
    shards = sorted(pathlib.Path(cfg.output).glob("shards/*.tar"))
    samples = list(wds.WebDataset([str(s) for s in shards], shardshuffle=False))
    assert stats["stages"]["accepted"] == len(clips) == len(samples) == stats["shards"]["samples"]
    assert stats["rejects"]["total"] == len(rejects)
    assert stats["shards"]["count"] == len(shards)
    per_shard = {f["name"]: f["samples"] for f in stats["shards"]["files"]}
    assert per_shard == {s.name: sum(c["shard"] == s.name for c in clips) for s in shards}
    by_reason = {}
    for r in rejects:
        by_reason[f"{r['stage']}/{r['reason']}"] = by_reason.get(f"{r['stage']}/{r['reason']}", 0) + 1
    assert stats["rejects"]["by_reason"] == by_reason


def test_shards_read_back_with_webdataset(built):
    cfg, _, _ = built
    shards = sorted(str(p) for p in pathlib.Path(cfg.output).glob("shards/*.tar"))
    table = {c["key"]: c for c in pq.read_table(f"{cfg.output}/clips").to_pylist()}
    for sample in wds.WebDataset(shards, shardshuffle=False):
        audio, rate = sf.read(io.BytesIO(sample["flac"]))
        meta = json.loads(sample["json"])
        row = table[sample["__key__"]]
        assert rate == 48000 and abs(len(audio) / rate - row["duration_s"]) < 1e-3
        assert sample["txt"].decode().strip() and meta["captions"][0]["text"] == sample["txt"].decode()
        assert sample["__url__"].endswith(row["shard"])
        assert meta["provenance"]["config_hash"] == cfg.config_hash()


def test_rerun_is_byte_identical(built):
    cfg, stats, again = built
    out = pathlib.Path(cfg.output)
    other = out.parent / "again"
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert any(f.suffix == ".tar" for f in files)
    for f in files:
        assert (out / f).read_bytes() == (other / f).read_bytes(), f
    assert stats == again


def test_rebuild_in_place_replaces_the_previous_corpus(built, tmp_path):
    cfg, stats, _ = built
    shutil.copytree(cfg.output, tmp_path / "out")
    (tmp_path / "out" / "shards" / "dev-000099.tar").write_bytes(b"stale")
    assert run_build(cfg.model_copy(update={"output": str(tmp_path / "out")}), []) == stats
    assert not (tmp_path / "out" / "shards" / "dev-000099.tar").exists()


def test_refuses_to_write_into_a_foreign_folder(built, tmp_path):
    from tunescribe.pipelines.config import ConfigError
    cfg, _, _ = built
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a tunescribe corpus"):
        run_build(cfg.model_copy(update={"output": str(tmp_path)}), [])
    assert (tmp_path / "precious.txt").read_text() == "keep me"
