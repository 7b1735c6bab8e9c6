"""The same build on each runner this machine can run, and the per-clip cost behind the README's
"Running at scale" estimate. Not a timed test: it prints figures measured in one run.

  python benchmarks/runners.py [--tracks 8 48] [--seconds 30] [--runners direct threads multi portable]

Runners: direct = DirectRunner in process (one worker thread); threads / multi = DirectRunner with
--direct_running_mode multi_threading / multi_processing and --direct_num_workers 2; portable =
PortableRunner on Beam's job service + external worker pool (separate processes; the CPU of the
pool's workers is not counted: the pool does not reap them when it is stopped).

Input: synthetic music (examples/basic/make_audio.py's generator: chords, melody, drums), one
FLAC per track at 22.05 kHz, cut into 10 s clips at 48 kHz, default stages (no model captioners).
For each runner and size it prints wall time and CPU seconds (this process and every process it
waited for). The per-clip cost is the slope between the two sizes, so start-up costs (workers,
job service) drop out (a discarded warm-up run pays this process's imports first); the wall-time ratios to the in-process DirectRunner are printed last.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import resource
import shutil
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from beam_services import portable_services  # noqa: E402
from synthetic_corpus import make_input  # noqa: E402

from tunescribe.pipelines.commands.build import run_build  # noqa: E402
from tunescribe.pipelines.config import load_config  # noqa: E402


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(runner: str, config: pathlib.Path, out: pathlib.Path) -> tuple[float, float, dict]:
    cfg = load_config(str(config), output=str(out))
    wall, cpu = time.monotonic(), cpu_seconds()
    if runner == "portable":
        with portable_services(out.parent / f"services-{out.name}") as services:
            stats = run_build(cfg, services.pipeline_args())
    else:
        args = {"direct": [], "threads": ["--direct_running_mode=multi_threading", "--direct_num_workers=2"],
                "multi": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]}[runner]
        stats = run_build(cfg, args)
    return time.monotonic() - wall, cpu_seconds() - cpu, stats


def differences(a: pathlib.Path, b: pathlib.Path) -> list[str]:
    def files(root):
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    fa, fb = files(a), files(b)
    return sorted(name for name in set(fa) | set(fb) if fa.get(name) != fb.get(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, nargs=2, default=[8, 48], metavar=("SMALL", "LARGE"))
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each track")
    parser.add_argument("--runners", nargs="+", default=["direct", "threads", "multi", "portable"],
                        choices=["direct", "threads", "multi", "portable"])
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"tracks of {args.seconds:.0f} s; sizes {args.tracks}")
    work = pathlib.Path(tempfile.mkdtemp(prefix="tunescribe-bench-runners-"))
    try:
        configs = {n: make_input(work / f"in{n}", n, args.seconds) for n in args.tracks}
        # Imports and JIT compilation (numba, ONNX sessions) happen once per process: pay them
        # here, or the first in-process run would carry them and bias the slope.
        run("direct", configs[args.tracks[0]], work / "warm-up")
        results, runners = {}, args.runners
        for runner in args.runners:
            for n in args.tracks:
                wall, cpu, stats = run(runner, configs[n], work / f"{runner}{n}")
                clips = stats["stages"]["accepted"]
                results[runner, n] = (wall, cpu, clips)
                diff = [] if runner == runners[0] else differences(work / f"{runners[0]}{n}", work / f"{runner}{n}")
                same = "" if runner == runners[0] else (
                    f"  DIFFERENT from {runners[0]}: {', '.join(diff[:4])}" if diff else "  same bytes as " + runners[0])
                print(f"{runner:9s} {n:4d} tracks {clips:5d} clips  wall {wall:7.1f} s  cpu {cpu:7.1f} s{same}")
        small, large = args.tracks
        print("\nmarginal cost per accepted clip (slope between the two sizes):")
        for runner in args.runners:
            (w0, c0, k0), (w1, c1, k1) = results[runner, small], results[runner, large]
            print(f"  {runner:9s} wall {(w1 - w0) / (k1 - k0):6.3f} s/clip  cpu {(c1 - c0) / (k1 - k0):6.3f} "
                  f"cpu-s/clip  start-up ~{w0 - k0 * (w1 - w0) / (k1 - k0):5.1f} s")
        if "direct" in args.runners:
            print(f"\nwall time relative to the in-process DirectRunner at {large} tracks:")
            for runner in args.runners:
                print(f"  {runner:9s} {results[runner, large][0] / results['direct', large][0]:5.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
