"""Does a build's memory stay bounded as the corpus grows? Two builds of distinct rendered music,
measured in one run (not a timed test: it prints figures and checks).

    pip install -e '.[bench]'   # + sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg (renders.py)
    python benchmarks/scale.py [--hours 20] [--small-hours 2] [--workers N] [--folder DIR] [--work DIR] [--keep]
                               [-- BUILD ARGS...]

Input: the first `--small-hours` and `--hours` of benchmarks/renders.py's tracks (music21 scores
rendered with FluidSynth, Ogg Vorbis / MP3, 44.1 kHz stereo; rendered once into the cache, reused
after), hard-linked into an input folder per build. Each build is the real CLI in a fresh process,
`tunescribe build CONFIG --output OUT [BUILD ARGS]`, with the default config and a folder input
(`--extra '{stats: {speech: false}}'` adds config sections). Arguments after `--` go to the build
verbatim (Beam options, ...); `--workers N` adds `--workers-args` with N filled in (default
"--workers {n}").

For each build: wall time, CPU seconds (the build and every process it waited for) and cores used,
audio hours (input, and the sum of the accepted clips' duration_s), clips, the peak RSS of the
whole process tree (the build and all its descendants sampled every 0.2 s with psutil; the peak of
the SUM, and of the largest single process), and the corpus's disk use: shards, `.tunescribe/`
and each entry in it, as ratios to the shards. Checks: peak RSS (tree) at --hours <= 2 GiB, and
<= 1.25x the figure at --small-hours. Exit status 1 when a check fails. The load average is
printed at the start and end: on a shared machine, wall times measure the neighbours too.
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from measure import (  # noqa: E402
    GiB,
    corpus_audio_s,
    disk_lines,
    disk_use,
    fmt_bytes,
    load_line,
    parse_extra,
    read_stats,
    run_build,
    verdict,
    write_config,
)
from renders import durations, link_into, render_dir, renders  # noqa: E402

MAX_RSS = 2 * GiB
MAX_GROWTH = 1.25


def first_hours(files: list[pathlib.Path], hours: float) -> list[pathlib.Path]:
    """The shortest prefix of `files` (sorted by name) that holds >= `hours` of audio."""
    seconds, out, total = durations(sorted(files)), [], 0.0
    for path, s in seconds.items():
        if total >= hours * 3600:
            break
        out.append(path)
        total += s
    if total < hours * 3600:
        raise SystemExit(f"--folder holds {total / 3600:.2f} h of audio, less than the {hours:g} h asked for")
    return out


def build_one(label: str, hours: float, work: pathlib.Path, build_args: list[str], extra: dict,
              jobs: int | None, folder_files: list[pathlib.Path] | None = None) -> dict:
    files = first_hours(folder_files, hours) if folder_files else renders(hours, jobs=jobs, verbose=False)
    seconds = durations(files)
    folder = work / f"in-{label}"
    link_into(files, folder)
    config = write_config(work / f"config-{label}.yaml", folder, work / f"out-{label}", extra=extra)
    out = work / f"out-{label}"
    print(f"\n== {label}: {len(files)} files, {sum(seconds.values()) / 3600:.2f} h of input audio "
          f"({sum(1 for f in files if f.suffix == '.ogg')} ogg, {sum(1 for f in files if f.suffix == '.mp3')} mp3)"
          f"\n   tunescribe build {config} --output {out} {shlex.join(build_args)}\n   start: {load_line()}",
          flush=True)
    run = run_build(f"build {label}", config, out, build_args, work / f"build-{label}.log")
    stats = read_stats(out)
    stages = stats.get("stages", {})
    corpus_s = corpus_audio_s(out)
    in_s = sum(seconds.values())
    use = disk_use(out)
    print(f"   end:   {load_line()}")
    print(f"   wall {run.wall_s:8.1f} s   ({in_s / run.wall_s:6.1f}x realtime)   cpu {run.cpu_s:8.1f} s "
          f"({run.cores:.2f} cores)")
    print(f"   clips {stages.get('accepted', '?')} accepted of {stages.get('clips', '?')} cut, "
          f"{stats.get('shards', {}).get('count', '?')} shard(s); corpus audio "
          f"{corpus_s / 3600 if corpus_s is not None else float('nan'):.2f} h")
    print(f"   {run.memory_line()}\n     largest: {run.peak_single_name}")
    print("\n".join(disk_lines(use, "   ")))
    return {"run": run, "input_s": in_s, "use": use, "stats": stats}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    build_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, build_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=20.0, help="the large build's hours of audio")
    parser.add_argument("--small-hours", type=float, default=2.0, help="the small build's hours of audio")
    parser.add_argument("--workers", type=int, default=None, help="adds --workers-args with {n} = N")
    parser.add_argument("--workers-args", default="--workers {n}",
                        help="build arguments that set N workers (default: %(default)s)")
    parser.add_argument("--extra", default=None, help="YAML mapping of config sections added to both builds")
    parser.add_argument("--render-jobs", type=int, default=None, help="processes rendering missing tracks")
    parser.add_argument("--folder", type=pathlib.Path, default=None,
                        help="take the audio files under this folder (by name) instead of the renders")
    parser.add_argument("--work", type=pathlib.Path, default=None, help="work folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpora, logs)")
    parser.add_argument("--max-rss-gib", type=float, default=MAX_RSS / GiB)
    parser.add_argument("--max-growth", type=float, default=MAX_GROWTH)
    args = parser.parse_args(argv)
    if args.workers is not None:
        build_args = [*shlex.split(args.workers_args.format(n=args.workers)), *build_args]
    extra = parse_extra(args.extra)
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="tunescribe-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"scale: {args.small_hours:g} h and {args.hours:g} h builds; build args: {shlex.join(build_args) or '(none)'}"
          f"; work folder {work}; renders from {render_dir()}\nstart: {load_line()}", flush=True)
    started = time.monotonic()
    found = None
    if args.folder:
        found = [p for p in args.folder.rglob("*") if p.suffix.lower() in (".ogg", ".mp3", ".flac", ".wav", ".opus")]
    else:
        renders(max(args.hours, args.small_hours), jobs=args.render_jobs)  # render first: not during a build
    try:
        small = build_one(f"{args.small_hours:g}h", args.small_hours, work, build_args, extra, args.render_jobs, found)
        large = build_one(f"{args.hours:g}h", args.hours, work, build_args, extra, args.render_jobs, found)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rss_small, rss_large = small["run"].peak_rss, large["run"].peak_rss
    growth = rss_large / rss_small if rss_small else float("inf")
    checks = [
        (f"peak RSS (tree) at {args.hours:g} h <= {args.max_rss_gib:g} GiB", rss_large <= args.max_rss_gib * GiB,
         fmt_bytes(rss_large)),
        (f"peak RSS (tree) at {args.hours:g} h <= {args.max_growth:g}x the figure at {args.small_hours:g} h",
         growth <= args.max_growth, f"{growth:.2f}x ({fmt_bytes(rss_large)} / {fmt_bytes(rss_small)})"),
    ]
    print(f"\nsummary ({time.monotonic() - started:.0f} s in all; end: {load_line()})")
    print(f"   {'build':8s} {'input h':>8s} {'wall s':>8s} {'x realtime':>10s} {'cores':>6s} {'clips':>7s} "
          f"{'peak RSS tree':>14s} {'largest proc':>13s} {'shards':>11s} {'.tunescribe':>11s}")
    for label, res in ((f"{args.small_hours:g} h", small), (f"{args.hours:g} h", large)):
        run, use = res["run"], res["use"]
        print(f"   {label:8s} {res['input_s'] / 3600:8.2f} {run.wall_s:8.1f} {res['input_s'] / run.wall_s:10.1f} "
              f"{run.cores:6.2f} {res['stats'].get('stages', {}).get('accepted', 0):7d} {fmt_bytes(run.peak_rss):>14s} "
              f"{fmt_bytes(run.peak_single_rss):>13s} {fmt_bytes(use['shards']):>11s} "
              f"{fmt_bytes(use.get('.tunescribe', 0)):>11s}")
    print("checks:")
    for text, ok, figure in checks:
        print(f"   {verdict(ok)}  {text}: {figure}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
