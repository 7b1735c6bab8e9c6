"""The audio path against its floor, its own worker scaling, and Lhotse: every figure measured side by
side in ONE run (not a timed test: it prints figures, ratios and their targets).

    pip install -e '.[bench]'   # + sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg (renders.py)
    python benchmarks/audio_path.py [--hours 1.3 | --folder DIR] [--window 10]
        [--build-args-1w "--workers 1"]
        [--build-args-2w "--workers 2"]
        [--skip default,lhotse] [--repeat N] [--work DIR] [--keep]

Input: real Ogg Vorbis / MP3 music, 44.1 kHz stereo: the first --hours of benchmarks/renders.py's
tracks (rendered once into the cache; 1.3 h is about 10-16 tracks), or every audio file under
--folder. Each figure is a separate process, timed in wall seconds, with the peak RSS of its process
tree (psutil, every 0.2 s: the peak of the SUM over the process and all its descendants, and of the
largest one) and its CPU seconds:

  floor     one process: decode (PyAV) + mix to mono + resample to 48 kHz (soxr, streaming) + FLAC
            encode (soundfile, 16-bit) of the same 10 s windows (a tail >= 2 s is a window), nothing else
  novad-1w  `tunescribe build`, default config but `stats: {speech: false}` and `attributes:
            {extractors: []}` (no VAD, no tempo/key/meter; and `quality: {require_caption: false}`:
            without attributes a folder's clips have no caption), --build-args-1w
  novad-2w  the same with --build-args-2w; its shards must be byte-identical to novad-1w's (sha256)
  default   `tunescribe build`, default config, --build-args-1w
  lhotse    the same windows exported as 48 kHz mono FLAC to Lhotse Shar: Recording.from_file ->
            CutSet.cut_into_windows(10) -> tails >= 2 s -> MultiCut.to_mono(mono_downmix=True) ->
            resample(48000) -> CutSet.to_shar(fields={"recording": "flac"}), lazily, one process

Ratios printed with their targets (wall time; a ratio of throughputs = the inverse ratio of wall
times on the same audio):
  floor / novad-1w >= 0.5       floor / default >= 0.25       novad-1w / novad-2w >= 1.7
  lhotse / novad-1w >= 1.5 (tunescribe's no-VAD throughput over lhotse's)
  peak RSS novad-1w / lhotse <= 1.5

The worker settings are plain build arguments (`tunescribe build --workers N`). The per-stage CPU
share of the per-item path (benchmarks/stage_costs.py) is printed last (`--skip stages` leaves it out). Build figures include the build's start-up (imports,
pipeline construction, report): at small inputs that dominates. The load average is printed at the
start and end: on a machine shared with other jobs, wall times measure the neighbours as well.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shlex
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

AUDIO_EXTENSIONS = {".aac", ".aif", ".aiff", ".flac", ".m4a", ".mp3", ".mp4", ".oga", ".ogg", ".opus", ".wav",
                    ".webm", ".wma"}
RATE = 48000
MIN_TAIL_S = 2.0
VARIANTS = ["floor", "novad-1w", "novad-2w", "default", "lhotse"]
# Without attributes, a folder input's clips have nothing to caption from; require_caption: false keeps
# them, so that this build writes the same clips as the others (and shards to compare).
NOVAD = {"stats": {"speech": False}, "attributes": {"extractors": []}, "quality": {"require_caption": False}}


# --------------------------------------------------------------------- the floor (a subprocess)


def floor(files: list[str], window_s: float) -> dict:
    """Decode + mono + resample to 48 kHz + FLAC-encode every window; streaming (bounded memory)."""
    import io

    import av
    import numpy as np
    import soundfile as sf
    import soxr

    window, min_tail = int(window_s * RATE), int(MIN_TAIL_S * RATE)
    count = encoded = frames_out = 0

    def encode(pcm: np.ndarray) -> int:
        buf = io.BytesIO()
        sf.write(buf, np.clip(pcm, -1.0, 1.0), RATE, format="FLAC", subtype="PCM_16")
        return len(buf.getvalue())

    for path in files:
        pending: list[np.ndarray] = []  # resampled mono blocks not yet in a window
        held = full = 0  # frames in pending; full windows of this file so far

        def push(block: np.ndarray) -> None:
            nonlocal held, full, count, encoded, pending
            pending.append(block)
            held += block.shape[0]
            if held >= window:
                joined = np.concatenate(pending)
                n = held // window
                for k in range(n):
                    encoded += encode(joined[k * window:(k + 1) * window])
                count += n
                full += n
                pending, held = [joined[n * window:]], held - n * window

        with av.open(path) as container:
            stream = container.streams.audio[0]
            to_float = av.AudioResampler(format="fltp", layout="stereo" if stream.channels > 2 else None)
            resampler = None
            for frame in container.decode(stream):
                for converted in to_float.resample(frame):
                    planes = converted.to_ndarray()
                    mono = planes.mean(axis=0, dtype=np.float32) if planes.shape[0] > 1 else planes[0]
                    if resampler is None and converted.sample_rate != RATE:
                        resampler = soxr.ResampleStream(converted.sample_rate, RATE, 1, dtype="float32")
                    push(resampler.resample_chunk(mono) if resampler else mono)
            if resampler is not None:
                push(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if held and (held >= min_tail or not full):
            encoded += encode(np.concatenate(pending))
            count += 1
        frames_out += full * window + held
    return {"windows": count, "flac_bytes": encoded, "audio_s": frames_out / RATE}


# --------------------------------------------------------------------- lhotse (a subprocess)


def lhotse_shar(files: list[str], out: str, window_s: float) -> dict:
    from lhotse import CutSet, Recording, RecordingSet

    recordings = RecordingSet.from_recordings(
        Recording.from_file(path, recording_id=f"r{i:05d}") for i, path in enumerate(files))
    durations = {r.id: r.duration for r in recordings}

    def keep(cut) -> bool:  # the tail rule of the other figures
        return cut.duration >= window_s - 1e-6 or cut.duration >= MIN_TAIL_S or durations[cut.recording_id] < window_s

    def mono48k(cut):
        if getattr(cut, "num_channels", 1) > 1:
            cut = cut.to_mono(mono_downmix=True)
        return cut.resample(RATE)

    cuts = (CutSet.from_manifests(recordings=recordings).to_eager().cut_into_windows(duration=window_s)
            .filter(keep).map(mono48k))
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    written = cuts.to_shar(out, fields={"recording": "flac"}, shard_size=1000)
    shards = written.get("recording", [])
    import gzip

    import lhotse

    count = 0  # cuts written (their manifests; cheap, no audio read)
    for manifest in written.get("cuts", []):
        with gzip.open(manifest, "rt") as f:
            count += sum(1 for line in f if line.strip())

    return {"windows": count, "shards": len(shards), "bytes": sum(pathlib.Path(p).stat().st_size for p in shards),
            "lhotse": lhotse.__version__}


def child(argv: list[str]) -> int:
    """`audio_path.py _floor LIST WINDOW` / `_lhotse LIST OUT WINDOW`: one measured figure."""
    files = json.loads(pathlib.Path(argv[1]).read_text())
    started = time.perf_counter()
    if argv[0] == "_floor":
        result = floor(files, float(argv[2]))
    else:
        result = lhotse_shar(files, argv[2], float(argv[3]))
    result["inner_wall_s"] = time.perf_counter() - started
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def result_of(run) -> dict:
    for line in reversed(run.log.read_text(errors="replace").splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {}


# --------------------------------------------------------------------------------------- main


def input_files(args) -> list[pathlib.Path]:
    if args.folder:
        files = sorted(p for p in args.folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            raise SystemExit(f"no audio files under {args.folder}")
        return files
    from renders import renders

    return renders(args.hours, jobs=args.render_jobs)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("_floor", "_lhotse"):
        return child(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=1.3, help="hours of rendered music (default %(default)s)")
    parser.add_argument("--folder", type=pathlib.Path, help="use the audio files under this folder instead")
    parser.add_argument("--window", type=float, default=10.0, help="clip length, seconds")
    parser.add_argument("--build-args-1w", default="--workers 1",
                        help="build arguments for one worker (default: %(default)r)")
    parser.add_argument("--build-args-2w", default="--workers 2",
                        help="build arguments for two workers (default: %(default)r)")
    parser.add_argument("--skip", default="", help=f"comma-separated figures to leave out, of {','.join(VARIANTS)}")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all figures, interleaved; the fastest "
                        "run of each figure is reported")
    parser.add_argument("--render-jobs", type=int, default=None)
    parser.add_argument("--work", type=pathlib.Path, default=None, help="work folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpora, logs)")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - {*VARIANTS, "stages"}:
        raise SystemExit(f"--skip: unknown {sorted(skip - {*VARIANTS, 'stages'})}; figures are {VARIANTS}, stages")
    variants = [v for v in VARIANTS if v not in skip]

    from measure import (
        compare_shards,
        corpus_audio_s,
        fmt_bytes,
        load_line,
        read_stats,
        run_build,
        run_measured,
        verdict,
        write_config,
    )
    from renders import durations, link_into

    files = input_files(args)
    seconds = sum(durations(files).values())
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="tunescribe-audio-path-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = link_into(files, work / "in") if not args.folder else files
    in_folder = work / "in" if not args.folder else args.folder
    listing = work / "files.json"
    listing.write_text(json.dumps([str(p) for p in folder]))
    kinds = sorted({p.suffix.lower() for p in files})
    print(f"audio path: {len(files)} files ({', '.join(kinds)}), {seconds / 3600:.2f} h of audio, "
          f"{args.window:g} s windows -> 48 kHz mono FLAC; work folder {work}")
    print(f"start: {load_line()}", flush=True)
    extra_window = {} if args.window == 10.0 else {"segment": {"window_s": args.window}}
    configs = {
        "novad": write_config(work / "config-novad.yaml", in_folder, work / "out-novad", extra={**NOVAD, **extra_window}),
        "default": write_config(work / "config-default.yaml", in_folder, work / "out-default", extra=extra_window),
    }
    args_1w, args_2w = shlex.split(args.build_args_1w), shlex.split(args.build_args_2w)
    me = [sys.executable, str(pathlib.Path(__file__).resolve())]

    def measure(variant: str, round_: int):
        log = work / f"{variant}-{round_}.log"
        if variant == "floor":
            return run_measured(variant, [*me, "_floor", str(listing), str(args.window)], log)
        if variant == "lhotse":
            out = work / "out-lhotse"
            shutil.rmtree(out, ignore_errors=True)
            return run_measured(variant, [*me, "_lhotse", str(listing), str(out), str(args.window)], log)
        config, build_args = {"novad-1w": ("novad", args_1w), "novad-2w": ("novad", args_2w),
                              "default": ("default", args_1w)}[variant]
        return run_build(variant, configs[config], work / f"out-{variant}", build_args, log)

    best: dict[str, object] = {}
    details: dict[str, dict] = {}
    started = time.monotonic()
    try:
        for round_ in range(args.repeat):
            for variant in variants:
                run = measure(variant, round_)
                if variant in ("floor", "lhotse"):
                    info = result_of(run)
                else:
                    stats = read_stats(work / f"out-{variant}")
                    info = {"windows": stats.get("stages", {}).get("clips"),
                            "shards": stats.get("shards", {}).get("count"),
                            "accepted": stats.get("stages", {}).get("accepted"),
                            "audio_s": corpus_audio_s(work / f"out-{variant}")}
                print(f"  [{round_ + 1}/{args.repeat}] {variant:9s} wall {run.wall_s:8.1f} s  cpu {run.cpu_s:8.1f} s "
                      f"({run.cores:4.2f} cores)  {seconds / run.wall_s:6.1f}x realtime  windows {info.get('windows')}  "
                      f"peak RSS {fmt_bytes(run.peak_rss)} (largest proc {fmt_bytes(run.peak_single_rss)})  "
                      f"[{load_line()}]", flush=True)
                if variant not in best or run.wall_s < best[variant].wall_s:
                    best[variant], details[variant] = run, info
        identity = (compare_shards(work / "out-novad-1w", work / "out-novad-2w")
                    if {"novad-1w", "novad-2w"} <= set(best) else None)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nresults ({len(files)} files, {seconds / 3600:.2f} h; {time.monotonic() - started:.0f} s in all; "
          f"{'fastest of ' + str(args.repeat) + ' rounds' if args.repeat > 1 else 'one round'}; end: {load_line()})")
    print(f"  {'figure':10s} {'wall s':>8s} {'x realtime':>10s} {'cpu s':>8s} {'cores':>6s} {'windows':>8s} "
          f"{'accepted':>8s} {'peak RSS tree':>14s} {'largest proc':>13s} {'procs':>5s}")
    for variant in variants:
        run, info = best[variant], details[variant]
        print(f"  {variant:10s} {run.wall_s:8.1f} {seconds / run.wall_s:10.1f} {run.cpu_s:8.1f} {run.cores:6.2f} "
              f"{str(info.get('windows')):>8s} {str(info.get('accepted', '-')):>8s} {fmt_bytes(run.peak_rss):>14s} {fmt_bytes(run.peak_single_rss):>13s} "
              f"{run.peak_procs:5d}")
    print(f"  build args: 1 worker {shlex.join(args_1w)!r}; 2 workers {shlex.join(args_2w)!r}")

    def ratio(a: str, b: str, rss: bool = False):
        if a not in best or b not in best:
            return None
        x, y = best[a], best[b]
        return (x.peak_rss / y.peak_rss) if rss else (x.wall_s / y.wall_s)

    checks = [
        ("floor / novad-1w (no-VAD build, 1 worker, vs the floor)", ratio("floor", "novad-1w"), ">=", 0.5),
        ("floor / default (default build, 1 worker, vs the floor)", ratio("floor", "default"), ">=", 0.25),
        ("novad-1w / novad-2w (2 workers vs 1)", ratio("novad-1w", "novad-2w"), ">=", 1.7),
        ("lhotse / novad-1w (tunescribe no-VAD throughput / lhotse's)", ratio("lhotse", "novad-1w"), ">=", 1.5),
        ("peak RSS novad-1w / lhotse", ratio("novad-1w", "lhotse", rss=True), "<=", 1.5),
    ]
    print("ratios (wall time unless noted):")
    failed = False
    for text, value, op, target in checks:
        if value is None:
            print(f"  n/a   {text}: skipped")
            continue
        ok = value >= target if op == ">=" else value <= target
        failed |= not ok
        print(f"  {verdict(ok)}  {text}: {value:.2f}  (target {op} {target})")
    if identity is not None:
        same, text = identity
        failed |= not same
        print(f"  {verdict(same)}  1-worker vs 2-worker shards: {text}")
    windows = {v: details[v].get("windows") for v in variants if details[v].get("windows") is not None}
    if len(set(windows.values())) > 1:
        print(f"  note: window counts differ: {windows}")
    if "stages" not in skip:
        # Where the per-clip CPU goes: each stage of the audio path and of the captions, in one process.
        import stage_costs

        print("\nper-stage CPU share of the per-item path (benchmarks/stage_costs.py, same files):")
        print(stage_costs.report(stage_costs.measure(files, repeat=1)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
