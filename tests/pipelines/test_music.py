"""The music-analysis stages inside a real corpus build: stats, attributes and a tiny audio tagger
(random weights, local folder) wired after AudioStats, output read back from the clip table."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from tiny_models import LABELS, build_tiny_ast

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import ConfigError, load_config

CONFIG = """
name: music
output: out
inputs:
  - type: manifest
    path: subset.jsonl
    audio_root: {audio_dev}
    columns: {{path: file, tags: [instrument, kind], licence: license}}
segment: {{window_s: 10}}
attributes: {{extractors: [librosa]}}
tagging: {{model: ./tagger, top_k: 2, threshold: 0.0, batch_size: 4}}
quality: {{require_caption: false}}
"""


@pytest.fixture(scope="module")
def table(audio_dev, tmp_path_factory):
    work = tmp_path_factory.mktemp("music")
    build_tiny_ast(work / "tagger")
    rows = [json.loads(line) for line in (audio_dev / "manifest.jsonl").read_text().splitlines() if line.strip()]
    keep = {"bach_bwv66_6.ogg", "drascula_track12.ogg", "speech_en.ogg"}  # 4 music clips + speech, kept small
    (work / "subset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["file"] in keep))
    (work / "config.yaml").write_text(CONFIG.format(audio_dev=audio_dev))
    cfg = load_config(str(work / "config.yaml"))
    assert cfg.tagging.model == str(work / "tagger")  # relative to the config file
    run_build(cfg, [])
    return {row["key"]: row for row in pq.read_table(f"{cfg.output}/clips").to_pylist()}


def test_clips_carry_attributes_stats_and_merged_tags(table):
    assert table
    music = [r for r in table.values() if r["source_id"].startswith(("bach", "drascula"))]
    assert len(music) == 4
    for row in music:
        names = {a["name"] for a in row["attributes"]}
        assert {"tempo", "key"} <= names
        tempo = next(a for a in row["attributes"] if a["name"] == "tempo")
        assert 30 < tempo["number"] < 320 and 0 <= tempo["confidence"] <= 1
        assert tempo["extractor"].startswith("librosa ")
        assert row["stats"]["speech_ratio"] < 0.2 and row["stats"]["loudness_lufs"] > -60
        origins = [t["origin"] for t in row["tags"]]
        assert origins[0] == "manifest" and sum(o.startswith("tagger@local-") for o in origins) == 2
        assert all(t["score"] is not None and t["name"] in {x.lower() for x in LABELS}
                   for t in row["tags"] if t["origin"] != "manifest")
    [speech] = [r for r in table.values() if r["source_id"] == "speech_en.ogg"]
    assert speech["stats"]["speech_ratio"] > 0.7


def test_bad_music_config_is_refused_before_any_work(tmp_path):
    (tmp_path / "c.yaml").write_text("name: x\noutput: o\ninputs: [{type: folder, path: .}]\n"
                                     "attributes: {extractors: [madmom]}\n")
    with pytest.raises(ConfigError, match="attributes.extractors"):
        load_config(str(tmp_path / "c.yaml"))
