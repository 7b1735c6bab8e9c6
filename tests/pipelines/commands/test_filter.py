"""Re-deciding a built corpus's stored stats with new thresholds gives what a full rebuild with
those thresholds gives: the dry run's counts, and `tunescribe filter`'s written corpus byte for
byte (shards, tables, rejects, stats, card, report, indexes, checksums, manifest)."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.commands.filter import report, run_filter
from tunescribe.pipelines.commands.validate import validate_corpus
from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates
from tunescribe.transforms.quality.decide import DECISION_STAGES, decide_in_process

# Captions SmolLM2-135M-Instruct wrote for MusicCaps train rows (benchmarks/smollm2_captions.py), as a
# manifest's captions: the first talks about its task, the second is a fine description.
SMOLLM2_TASK_TALK = ('The song description sentence is: "The song is a tribute to the legendary harpist, who has '
                     'been performing for centuries."')
GOOD = "A bell rings once over a quiet background, a short chime with a soft decay."


def _config(tmp_path, folder, music, quality, manifest=None, **sections):
    inputs = [{"type": "folder", "path": str(music)}]
    if manifest:
        inputs.append({"type": "manifest", "path": str(manifest), "format": "jsonl",
                       "columns": {"path": "file", "id": "id", "captions": ["model", "human"]}})
    cfg = {"name": "refilter", "output": str(tmp_path / folder), "inputs": inputs, "quality": quality, **sections}
    path = tmp_path / f"{folder}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(str(path))


def _outcome(corpus):
    table = pq.read_table(f"{corpus}/clips").to_pylist()
    accepted = sorted((r["key"], tuple(c["text"] for c in r["captions"])) for r in table)
    rejects = pq.read_table(f"{corpus}/rejects.parquet").to_pylist()
    decided = sorted((r["key"], r["stage"], r["reason"]) for r in rejects if r["stage"] in DECISION_STAGES)
    return accepted, decided


def test_refilter_equals_full_rebuild(tmp_path, audio_dev):
    music = tmp_path / "music"
    music.mkdir()
    for name in ("joplin_maple_leaf_rag.ogg", "fd_complete.ogg", "silence_10s.ogg"):
        shutil.copy(audio_dev / name, music / name)
    x, rate = sf.read(audio_dev / "joplin_maple_leaf_rag.ogg")
    sf.write(music / "joplin_quieter_copy.wav", x * 0.5, rate)  # a near-duplicate source
    bells = tmp_path / "bells"  # a short clip whose manifest gives a bad and a good caption
    bells.mkdir()
    shutil.copy(audio_dev / "fd_bell.ogg", bells / "bell.ogg")
    manifest = bells / "captions.jsonl"
    row = {"file": "bell.ogg", "id": "bell", "model": SMOLLM2_TASK_TALK, "human": GOOD}
    manifest.write_text(json.dumps(row) + "\n")
    # An evaluation set held out by audio: the rag's first 12 s (the build fingerprints it once per worker).
    held_out = tmp_path / "eval"
    held_out.mkdir()
    sf.write(held_out / "rag_start.wav", x[: 12 * rate], rate)
    (held_out / "eval.csv").write_text("id,file\ntrack-9,rag_start.wav\n")
    eval_sets = [{"name": "held-out", "path": str(held_out / "eval.csv"), "audio_column": "file"}]
    strict = {"min_duration_s": 3.0, "require_caption": False, "decontaminate": eval_sets}
    loose = {"min_duration_s": 0.5, "max_silence_ratio": 1.0, "require_caption": False, "decontaminate": eval_sets,
             "dedup": {"max_ber": None, "caption_jaccard": 0.7}}  # copies stay, but lose near-duplicate captions
    built = {name: _config(tmp_path, name, music, quality, manifest)
             for name, quality in (("strict", strict), ("loose", loose))}
    for cfg in built.values():
        run_build(cfg, ["--direct_num_workers=1"])
    stored = read_candidates(f"{built['strict'].output}/.tunescribe/{CANDIDATES_FILE}")

    for name, cfg in built.items():
        accepted, rejects, dropped = decide_in_process(stored, cfg.quality)  # the dry run's decisions
        rebuilt_accepted, rebuilt_rejects = _outcome(cfg.output)
        assert sorted((c.key, tuple(k.text for k in c.captions)) for c in accepted) == rebuilt_accepted
        assert sorted((r.key, r.stage, r.reason) for r in rejects) == rebuilt_rejects
        # No dropped caption vanishes: the table holds each with its rule and text, stats.json
        # counts them, and the dry run lists the same ones.
        table = pq.read_table(f"{cfg.output}/dropped_captions.parquet").to_pylist()
        assert [(d["key"], d["caption_index"], d["stage"], d["reason"], d["text"]) for d in table] == \
            [(d.key, d.caption_index, d.stage, d.reason, d.text) for d in dropped]
        assert any(d["reason"] == "task_talk" and d["text"] == SMOLLM2_TASK_TALK and d["backend"] == "human"
                   and d["task"] == "reference" and d["prompt_id"] == "model" for d in table)
        assert GOOD not in {d["text"] for d in table}
        stats = json.load(open(f"{cfg.output}/stats.json"))
        assert stats["captions_dropped"]["total"] == len(table)
        assert stats["captions_dropped"]["by_reason"]["quality/task_talk"] == 1
        assert stats["captions_dropped"]["by_model_task"]["human/reference"] >= 1
        assert validate_corpus(cfg.output)[0] == []
        listed = {f["path"] for f in json.load(open(f"{cfg.output}/manifest.json"))["files"]}
        assert "dropped_captions.parquet" in listed
        card, html = open(f"{cfg.output}/README.md").read(), open(f"{cfg.output}/report.html").read()
        assert "task_talk" in card and "Dropped captions" in html and "legendary harpist" in html
        print(f"\n{name}: {len(accepted)} accepted, {len(rejects)} rejected, same as the rebuild")
        assert {r.reason for r in rejects if r.stage == "decontaminate"} == {"eval_audio"}
        if name == "loose":
            assert not any(r.reason == "duplicate_audio_near" for r in rejects)
            assert any(c.stats["duration_s"] < 3 for c in accepted)  # loosened: short clips come back
            before = {c.key: len(c.captions) for c in stored}
            assert any(0 < len(c.captions) < before[c.key] for c in accepted)
        else:
            assert any(r.reason == "duplicate_audio_near" for r in rejects)
    dry = report(stored, built["strict"].quality, 5)
    assert "clips dropped" in dry and "quality/task_talk" in dry and "legendary harpist" in dry

    # The written corpus: strict -> loose (clips come back: their audio is in the stats store) and
    # loose -> strict, each compared with the full rebuild of its config, file by file.
    for source, target in (("strict", "loose"), ("loose", "strict")):
        out = tmp_path / f"{source}_to_{target}"
        run_filter(built[source].output, built[target].model_copy(update={"output": str(out)}), [])
        want, got = _corpus_files(built[target].output), _corpus_files(out)
        assert sorted(got) == sorted(want)
        differ = sorted(rel for rel in want if want[rel] != got[rel])
        assert differ == [], f"{source} -> {target}: differs from the rebuild in {differ}"
        print(f"filter {source} -> {target}: {len(want)} files byte-identical to the full rebuild "
              f"({sum(rel.startswith('shards/') for rel in want)} shards)")


def _corpus_files(corpus) -> dict[str, bytes]:
    """Every file of the corpus (the .tunescribe work folder is not part of it)."""
    out = {}
    for root, dirs, files in os.walk(corpus):
        dirs[:] = [d for d in dirs if d != ".tunescribe"]
        for f in files:
            path = os.path.join(root, f)
            out[os.path.relpath(path, corpus)] = open(path, "rb").read()
    return out


def test_filter_refuses_what_it_cannot_do_right(tmp_path, audio_dev):
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(audio_dev / "bach_bwv66_6.ogg", music / "bach_bwv66_6.ogg")  # 26 s: 3 clips of 10 s
    cfg = _config(tmp_path, "base", music, {"require_caption": False})
    run_build(cfg, ["--direct_num_workers=1"])
    source_files = _corpus_files(cfg.output)
    with pytest.raises(ConfigError, match="never overwrites its source"):
        run_filter(cfg.output, cfg, [])
    other_clips = _config(tmp_path, "other", music, {}, segment={"window_s": 5.0})
    with pytest.raises(ConfigError, match="tunescribe build"):
        run_filter(cfg.output, other_clips, [])
    # Thresholds, shard sizes and the name may change: only they decide or lay out, never make clips.
    renamed = _config(tmp_path, "renamed", music, {"min_duration_s": 1.0, "require_caption": False}, shards={"max_samples": 1},
                      name="renamed")
    stats = run_filter(cfg.output, renamed, [])
    assert stats["name"] == "renamed" and stats["shards"]["count"] == stats["stages"]["accepted"] > 1
    assert _corpus_files(cfg.output) == source_files  # the source corpus is only read
