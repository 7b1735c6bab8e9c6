"""What resuming saves, measured in one run (not a timed test: it prints figures).

  python benchmarks/resume.py [--tracks 8 32] [--seconds 30]

Input: synthetic music (examples/basic/make_audio.py's generator), one FLAC per track, default
stages (no model captioners), 10 s clips at 48 kHz. Every build is a real `tunescribe build`
subprocess. For two corpus sizes: a full build, then a rerun of the finished corpus (every item
restored from the ledger and the shards). The per-track cost is the slope between the sizes, so
start-up (imports, Beam's stages, the report) drops out; restored / processed is the saving.
At the larger size, a build is also SIGKILLed once its ledger holds committed items, and resumed:
how many items the resume restored, and whether the corpus equals the full build's, byte for byte.
Ledger bytes after compaction are compared with the shards (the audio lives only in the shards).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

from synthetic_corpus import make_input


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def build(config: pathlib.Path, out: pathlib.Path, kill_after: float | None = None) -> dict:
    cmd = [sys.executable, "-m", "tunescribe.pipelines.cli", "build", str(config), "--output", str(out)]
    started, cpu0 = time.monotonic(), cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    restored = re.search(r"resumed: (\d+) source item", err)
    return {"wall": time.monotonic() - started, "cpu": cpu() - cpu0, "rc": proc.returncode,
            "restored": int(restored.group(1)) if restored else 0}


def size(paths) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def ledger_runs(out: pathlib.Path) -> int:
    return sum(1 for p in out.glob(".tunescribe/ledger/*/*.parquet") if not p.name.startswith("compact-"))


def kill_when_committed(config: pathlib.Path, out: pathlib.Path) -> dict:
    cmd = [sys.executable, "-m", "tunescribe.pipelines.cli", "build", str(config), "--output", str(out)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None and ledger_runs(out) < 1:
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return {"wall": time.monotonic() - started, "rc": proc.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, nargs=2, default=[8, 32])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    small, large = args.tracks
    results = {}
    with tempfile.TemporaryDirectory(prefix="tunescribe-resume-") as tmp:
        for n in (small, large):
            config = make_input(pathlib.Path(tmp) / f"in{n}", n, args.seconds, max_samples=16)
            if n == small:
                build(config, pathlib.Path(tmp) / "warmup")  # pays the first imports, discarded
            out = pathlib.Path(tmp) / f"out{n}"
            results[n] = {"full": build(config, out), "rerun": build(config, out)}
            if n == large:
                shards = size(out.glob("shards/*.tar"))
                ledger = size(out.glob(".tunescribe/ledger/*/*"))
                killed_out = pathlib.Path(tmp) / "killed"
                killed = kill_when_committed(config, killed_out)
                resumed = build(config, killed_out)
                same = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == sorted(
                    p.relative_to(killed_out) for p in killed_out.rglob("*") if p.is_file()) and all(
                    (killed_out / p.relative_to(out)).read_bytes() == p.read_bytes()
                    for p in out.rglob("*") if p.is_file())
    print(f"{small} and {large} tracks x {args.seconds:g} s, default stages (wall / CPU s, CPU includes children)")
    for n in (small, large):
        for kind in ("full", "rerun"):
            r = results[n][kind]
            print(f"  {n:4d} tracks  {kind:6s} {r['wall']:7.1f} s  {r['cpu']:7.1f} s CPU  restored {r['restored']}")
    slope = {k: {m: (results[large][k][m] - results[small][k][m]) / (large - small) for m in ("wall", "cpu")}
             for k in ("full", "rerun")}
    print(f"  per track, processed: {slope['full']['wall']:.2f} s wall, {slope['full']['cpu']:.2f} s CPU; "
          f"restored: {slope['rerun']['wall']:.2f} s wall, {slope['rerun']['cpu']:.2f} s CPU "
          f"(restored / processed: {slope['rerun']['cpu'] / slope['full']['cpu']:.2f} CPU)")
    print(f"  killed after {killed['wall']:.1f} s (rc {killed['rc']}); the resume restored {resumed['restored']} of "
          f"{large} items in {resumed['wall']:.1f} s (full build {results[large]['full']['wall']:.1f} s); "
          f"byte-identical to the full build: {same}")
    print(f"  ledger after compaction: {ledger} bytes = {ledger / max(shards, 1):.1%} of the shards' {shards}")


if __name__ == "__main__":
    main()
