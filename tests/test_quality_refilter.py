"""Re-deciding a built corpus's stored stats with new thresholds gives what a full rebuild with
those thresholds gives (accepted clips with their captions, and the decision rejects)."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf
import yaml

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.commands.filter import decide, report
from tunescribe.pipelines.config import load_config
from tunescribe.pipelines.quality import decisions_of
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates
from tunescribe.transforms.quality.decide import DECISION_STAGES


def _config(tmp_path, name, music, quality):
    cfg = {"name": "refilter", "output": str(tmp_path / name),
           "inputs": [{"type": "folder", "path": str(music)}], "quality": quality}
    path = tmp_path / f"{name}.yaml"
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
    strict = {"min_duration_s": 3.0, "require_caption": False}
    loose = {"min_duration_s": 0.5, "max_silence_ratio": 1.0, "require_caption": False,
             "dedup": {"max_ber": None}}
    first = _config(tmp_path, "strict", music, strict)
    run_build(first, ["--direct_num_workers=1"])
    stored = read_candidates(f"{first.output}/.tunescribe/{CANDIDATES_FILE}")

    for name, quality in (("loose", loose), ("strict", strict)):
        cfg = first if name == "strict" else _config(tmp_path, name, music, quality)
        accepted, rejects = decide(stored, decisions_of(cfg))
        if cfg is not first:
            run_build(cfg, ["--direct_num_workers=1"])
        rebuilt_accepted, rebuilt_rejects = _outcome(cfg.output)
        assert sorted((c.key, tuple(k.text for k in c.captions)) for c in accepted) == rebuilt_accepted
        assert sorted((k, s, r) for k, s, r, _ in rejects) == rebuilt_rejects
        print(f"\n{name}: {len(accepted)} accepted, {len(rejects)} rejected, same as the rebuild")
        if name == "loose":
            assert not any(r == "duplicate_audio_near" for _, _, r, _ in rejects)
            assert any(c.stats["duration_s"] < 3 for c in accepted)  # loosened: short clips come back
        else:
            assert any(r == "duplicate_audio_near" for _, _, r, _ in rejects)
    assert "clips dropped" in report(stored, decisions_of(first), 5)
