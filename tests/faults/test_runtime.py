"""Run-level faults: the output disk fills up, and most inputs are broken (the error-ratio guard).
(SIGKILL mid-run and rerun: tests/faults/test_resume.py, which records its rows in the same table.)

Disk full is a real kernel limit on a real `tunescribe build` subprocess: a 2 MiB tmpfs mounted
on the output folder where this process may mount (root, as in CI containers), else
RLIMIT_FSIZE on the build process — the kernel then fails any write past 1 MiB with EFBIG, the
same failure a write into a full filesystem gets (ENOSPC) as far as the build can tell: an
OSError from write()/close() in the middle of a shard. Python ignores SIGXFSZ, so the write
fails instead of the process being killed. Expected: the run stops early with one clear line
(non-zero exit, names the output folder and the cause, no traceback), and nothing half-written
looks complete: no manifest.json, no temp files, every shard left behind a whole tar. After
space is freed, a rerun finishes the corpus and its books balance.

Under RLIMIT_FSIZE the first write past the limit is py3langid's model, unpacked to a temp file
by the caption-stats stage, before any shard: the limit covers every file of the process. That
found a real bug — the stage turned the error into an `unexpected_error` reject per clip and the
run "finished" an empty corpus; a disk-full error now stops the run from any stage (stage.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import resource
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from audio_files import write_audio
from fault_helpers import Books, build_under_watchdog

from tunescribe.pipelines.cli import main as cli_main
from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.transforms.corpus.guard import ErrorRatioGuard, find_breaches

pytestmark = pytest.mark.faults

BASE = """
name: {name}
output: out
inputs: [{{type: manifest, path: items.jsonl, columns: {{id: id, path: path, tags: tags}}}}]
segment: {{window_s: 4.0, min_tail_s: 0.5}}
quality: {{min_duration_s: 0.5}}
stats: {{speech: false}}
attributes: {{extractors: []}}
"""


def write_items(root, good: int, seconds: float = 2.0, missing: int = 0, garbage: int = 0, rate: int = 16000):
    rows = []
    for i in range(good):
        write_audio(root / "audio" / f"good{i}.wav", seconds=seconds, rate=rate, freq=200.0 + 50 * i)
        rows.append({"id": f"good{i}", "path": f"audio/good{i}.wav", "tags": "rock,guitar"})
    for i in range(missing):
        rows.append({"id": f"missing{i}", "path": f"audio/missing{i}.wav", "tags": "rock"})
    for i in range(garbage):
        (root / "audio" / f"garbage{i}.wav").write_bytes(bytes(np.random.default_rng(i).integers(0, 256, 5000, np.uint8)))
        rows.append({"id": f"garbage{i}", "path": f"audio/garbage{i}.wav", "tags": "rock"})
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


# --- disk full ------------------------------------------------------------------------------

@contextlib.contextmanager
def small_output(out, how: str):
    """A callable that frees space afterwards (None: nothing to free). "tmpfs": a 2 MiB tmpfs on
    `out` (skipped where this process may not mount); "rlimit": the build subprocess runs under
    RLIMIT_FSIZE instead (see module doc), the fallback that works for any user."""
    out.mkdir(parents=True)
    if how == "rlimit":
        yield None
        return
    mount = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(out)]
    if sys.platform != "linux" or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission): the rlimit case covers disk full")
    try:
        yield lambda: subprocess.run(["mount", "-o", "remount,size=64m", str(out)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(out)], capture_output=True)


def limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def cli_build(config, limited: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunescribe.pipelines.cli", "build", str(config)],
                          capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size if limited else None)


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_disk_full_stops_the_run_cleanly_and_a_rerun_finishes(tmp_path, fault_log, how):
    # 6 clips of 4 s, 48 kHz 16-bit WAV: 2.3 MB of shards, more than the 2 MiB (or 1 MiB) allowed.
    write_items(tmp_path, good=6, seconds=4.0, rate=48000)
    (tmp_path / "config.yaml").write_text(BASE.format(name="diskfull") + "audio: {format: wav}\n")
    out = tmp_path / "out"
    with small_output(out, how) as free_space:
        done = cli_build(tmp_path / "config.yaml", limited=how == "rlimit")
        cause = "no space left on device" if how == "tmpfs" else "file too large"
        kind = f"disk full on the output ({how})"
        fault_log.add(kind, f"stopped: exit {done.returncode}, '{cause}'" if done.returncode else "NOT STOPPED",
                      crashed="Traceback" in done.stderr)
        assert done.returncode == 4, done.stderr[-3000:]
        message = done.stderr.strip().splitlines()
        assert "Traceback" not in done.stderr and cause in message[-1] and str(out) in message[-1], done.stderr[-3000:]
        # Nothing half-written looks complete.
        assert not (out / "manifest.json").exists()
        assert [p for p in out.rglob("*") if ".tmp-" in p.name] == []
        for shard in out.glob("shards/*.tar"):
            with tarfile.open(shard) as tar:
                assert tar.getmembers()
        sums = out / "SHA256SUMS"
        if sums.exists():
            for line in sums.read_text().splitlines():
                digest, rel = line.split("  ", 1)
                assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
        # Space is freed: the rerun finishes the corpus.
        if free_space is not None:
            free_space()  # (under rlimit, the rerun simply runs without the limit)
        build_under_watchdog(tmp_path / "config.yaml")
        books = Books(out)
        assert (out / "manifest.json").is_file() and books.balanced()
        assert books.stats["sources"]["accepted"] == 6
        fault_log.add(f"{kind}, then rerun with space", "corpus finished", ingested=books.stats["sources"]["ingested"],
                      accepted=books.stats["sources"]["accepted"], rejected=books.stats["sources"]["rejected"])


# --- the error-ratio guard --------------------------------------------------------------------

def test_guard_stops_a_run_where_most_inputs_are_broken(tmp_path, fault_log, capsys, caplog):
    write_items(tmp_path, good=6, missing=9, garbage=9)
    config = tmp_path / "config.yaml"
    config.write_text(BASE.format(name="mostlybroken"))
    code = cli_main(["-q", "build", str(config)])
    err = capsys.readouterr().err
    out = tmp_path / "out"
    books = Books(out) if (out / "stats.json").exists() else None  # the report's sources, on disk
    s = books.stats["sources"] if books else {"ingested": 0, "accepted": 0, "rejected": 0}
    fault_log.add("18 of 24 inputs broken (error-ratio guard)", f"stopped: exit {code}, stage decode 18 of 24",
                  ingested=s["ingested"], accepted=s["accepted"], rejected=s["rejected"], crashed="Traceback" in err)
    assert code == 3, err[-3000:]
    assert "stage 'decode' failed on 18 of 24 (75% > 50%)" in err, err
    assert "missing_file 9" in err and str(out) in err and "Traceback" not in err
    assert not (out / "manifest.json").exists() and not (out / "README.md").exists()
    assert books.balanced() and books.stats["sources"]["accepted"] == 6

    # A raised ratio (not in the config hash) finishes the same corpus from the stopped run's work.
    config.write_text(BASE.format(name="mostlybroken") + "errors: {max_error_ratio: 0.8}\n")
    caplog.set_level(logging.INFO, logger="tunescribe")
    stats = build_under_watchdog(config)
    assert "resumed:" in caplog.text  # the stopped run's ledger was reused
    assert (out / "manifest.json").is_file()
    s = stats["sources"]
    assert (s["ingested"], s["accepted"], s["rejected"]) == (24, 6, 18)
    fault_log.add("18 of 24 inputs broken, max_error_ratio 0.8", "corpus finished", ingested=24, accepted=6, rejected=18)


def test_guard_judges_only_stages_that_saw_enough_items():
    stats = {"sources": {"ingested": 5}, "stages": {"unique": 5, "fetched": 5, "decoded": 1, "clips": 1,
                                                     "measured": 1, "encoded": 1}}
    guard = ErrorRatioGuard(max_error_ratio=0.5, min_items=20)
    assert find_breaches(stats, {"decode": 4}, {"decode": {"missing_file": 4}}, guard) == []  # a tiny run
    (breach,) = find_breaches(stats, {"decode": 4}, {"decode": {"missing_file": 4}},
                              ErrorRatioGuard(max_error_ratio=0.5, min_items=5))
    assert (breach.stage, breach.failed, breach.entered) == ("decode", 4, 5)
    lenient = ErrorRatioGuard(max_error_ratio=0.5, min_items=5, per_stage={"decode": 0.9})
    assert find_breaches(stats, {"decode": 4}, {}, lenient) == []
    # Captions: clips with a failed model caption, of the clips that entered the caption stage.
    many = {"sources": {"ingested": 40}, "stages": {"unique": 40, "fetched": 40, "decoded": 40, "clips": 40,
                                                     "measured": 40, "encoded": 40}}
    (breach,) = find_breaches(many, {"captions": 30}, {"captions": {"endpoint_timeout": 50, "endpoint_server_error": 10}},
                              ErrorRatioGuard())
    assert breach.line() == ("stage 'captions' failed on 30 of 40 (75% > 50%); "
                             "top reasons: endpoint_timeout 50, endpoint_server_error 10")
    assert find_breaches(many, {"captions": 30}, {}, ErrorRatioGuard(per_stage={"captions": 1.0})) == []
    # Decisions (duplicates, quality, dedup, split) are not failures: never judged.
    assert find_breaches(stats, {"quality": 5, "dedup": 5}, {}, ErrorRatioGuard(max_error_ratio=0.1, min_items=1)) == []


@pytest.mark.parametrize("errors,message", [
    ("{max_error_ratio: 1.5}", "errors.max_error_ratio"),
    ("{min_items: 0}", "errors.min_items"),
    ("{per_stage: {decoding: 0.5}}", "unknown stage(s) ['decoding']"),
    ("{per_stage: {decode: 0}}", "each ratio must be > 0"),
])
def test_guard_settings_are_checked_before_any_work(tmp_path, errors, message):
    write_items(tmp_path, good=1)
    (tmp_path / "config.yaml").write_text(BASE.format(name="badguard") + f"errors: {errors}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(tmp_path / "config.yaml"))
    assert message in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_guard_is_not_part_of_the_config_hash(tmp_path):
    write_items(tmp_path, good=1)
    (tmp_path / "a.yaml").write_text(BASE.format(name="h"))
    (tmp_path / "b.yaml").write_text(BASE.format(name="h") + "errors: {max_error_ratio: 0.9, per_stage: {fetch: 1}}\n")
    assert load_config(str(tmp_path / "a.yaml")).config_hash() == load_config(str(tmp_path / "b.yaml")).config_hash()
