"""Benchmarks of the CPU audio path (not timed tests): each prints figures and ratios measured in one run.

  python benchmarks/audio_path.py p1 [--copies 3]      whole path vs the decode+encode floor
  python benchmarks/audio_path.py p2 [--copies 3]      tunescribe build vs a naive per-file script
  python benchmarks/audio_path.py p3 [--copies 6]      DirectRunner, 2 worker processes vs 1
  python benchmarks/audio_path.py p4 [--small 1000 --large 10000]   peak RSS for 1k vs 10k clips

Input for p1-p3: the audio files of ../shared/data/audio-dev (real Ogg Vorbis, 44.1 kHz stereo),
copied `--copies` times under distinct names. p4 uses synthetic FLAC sources (10 s each).
Figures depend on the machine and on what else runs on it: the script prints the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
AUDIO_DEV = REPO.parent / "shared" / "data" / "audio-dev"
RATE, WINDOW_S = 48000, 10.0
# P1 runs single-threaded, so it is timed in CPU seconds of this process: on a machine shared
# with other jobs, wall time measures the neighbours as much as the code.
clock = time.process_time


def conditions() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def dev_corpus(folder: pathlib.Path, copies: int) -> list[pathlib.Path]:
    """audio-dev's Ogg files, `copies` times each under distinct names, plus a JSONL manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(copies):
        for src in sorted(AUDIO_DEV.glob("*.ogg")):
            dst = folder / f"c{n}_{src.name}"
            shutil.copyfile(src, dst)
            files.append(dst)
    with open(folder / "manifest.jsonl", "w") as f:
        for path in files:
            f.write(json.dumps({"file": path.name}) + "\n")
    return files


def audio_seconds(files) -> float:
    import soundfile as sf

    return sum(sf.info(str(p)).duration for p in files)


# ---------------------------------------------------------------- P1: in-process stage chain


def floor_pass(files) -> float:
    """Decode (PyAV, native rate, mixed to mono like the path) + FLAC encode (libsndfile): nothing else."""
    import av
    import soundfile as sf

    started = clock()
    for path in files:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.sample_rate
            to_float = av.AudioResampler(format="fltp", layout="mono")
            chunks = [f.to_ndarray() for frame in container.decode(stream) for f in to_float.resample(frame)]
        pcm = np.concatenate(chunks, axis=1)[0]
        buf = io.BytesIO()
        sf.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    return clock() - started


def path_pass(files, rate: int, speech: bool, attributes: bool) -> tuple[float, dict]:
    """decode -> resample -> segment -> stats [-> attributes] -> FLAC -> tar, the stages' own code
    (with one BLAS thread, as the stages run)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _path_pass(files, rate, speech, attributes)


def _path_pass(files, rate: int, speech: bool, attributes: bool) -> tuple[float, dict]:
    from tunescribe.schemas import Clip, Provenance
    from tunescribe.transforms.attributes.extract import make_extractor, mono_at
    from tunescribe.transforms.audio.decode import decode_audio
    from tunescribe.transforms.audio.encode import encode_pcm
    from tunescribe.transforms.audio.segment import window_bounds
    from tunescribe.transforms.audio.stats import audio_stats
    from tunescribe.transforms.audio.vad import SpeechDetector
    from tunescribe.transforms.sinks.webdataset import to_sample, write_tar

    detector = SpeechDetector() if speech else None
    extractor = make_extractor("librosa") if attributes else None
    if extractor:
        extractor.setup()
    parts = dict.fromkeys(["decode", "segment", "stats", "attributes", "encode", "tar"], 0.0)
    provenance = Provenance("bench", "bench", "0", "0")
    samples_out = []
    started = clock()
    for path in files:
        t = clock()
        pcm = decode_audio(str(path), rate, 1)
        parts["decode"] += clock() - t
        t = clock()
        windows = window_bounds(pcm.shape[1], rate, WINDOW_S, WINDOW_S, "keep", 2.0)
        parts["segment"] += clock() - t
        for i, (lo, hi) in enumerate(windows):
            clip = Clip(key=f"{path.stem}_{i:05d}", source_id=path.name, clip_index=i, start_s=lo / rate,
                        end_s=hi / rate, sample_rate=rate, channels=1, provenance=provenance,
                        samples=pcm[:, lo:hi])
            t = clock()
            stats = audio_stats(clip.samples, rate, speech=detector)
            parts["stats"] += clock() - t
            found = ()
            if extractor:
                t = clock()
                found = tuple(extractor.extract(mono_at(clip, extractor.rate)))
                parts["attributes"] += clock() - t
            t = clock()
            audio = encode_pcm(clip.samples, rate)
            parts["encode"] += clock() - t
            t = clock()
            clip = Clip(**{**clip.__dict__, "stats": stats, "attributes": found, "audio": audio,
                           "audio_format": "flac", "samples": None})
            samples_out.append(to_sample(clip))
            parts["tar"] += clock() - t
    t = clock()
    write_tar(io.BytesIO(), samples_out)
    parts["tar"] += clock() - t
    return clock() - started, parts


def p1(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = dev_corpus(pathlib.Path(tmp), args.copies)
        seconds = audio_seconds(files)
        print(f"P1: {len(files)} files, {seconds:.0f} s of audio (44.1 kHz stereo Vorbis); {conditions()}")
        path_pass(files[:3], RATE, True, True)  # warm caches, numba, onnxruntime
        floor_pass(files[:3])
        variants = [
            ("stats, no speech share, 44.1 kHz", 44100, False, False),
            ("stats, no speech share, 48 kHz", RATE, False, False),
            ("stats incl. speech share (VAD), 48 kHz", RATE, True, False),
            ("stats + attributes, 48 kHz", RATE, True, True),
        ]
        floors, best = [], {}
        for _ in range(args.repeat):  # interleaved, best of each: the least disturbed run
            floors.append(floor_pass(files))
            for variant in variants:
                run = path_pass(files, *variant[1:])
                if variant not in best or run[0] < best[variant][0]:
                    best[variant] = run
        floor = min(floors)
        print(f"  floor  decode+FLAC encode (mono, native 44.1 kHz): {floor:6.2f} s CPU  {seconds / floor:6.0f}x realtime")
        for variant in variants:
            took, parts = best[variant]
            split = "  ".join(f"{k} {v:.2f}" for k, v in parts.items() if v)
            print(f"  path   {variant[0]:40s}: {took:6.2f} s CPU  floor/path = {floor / took:4.2f}   [{split}]")
        print(f"  (best of {args.repeat} interleaved runs each; {conditions()})")


# ---------------------------------------------------------------- P2/P3: whole builds

CONFIG = """
name: bench
output: {out}
inputs:
  - type: manifest
    path: {manifest}
    columns: {{path: file}}
segment: {{window_s: {window}}}
quality: {{require_caption: false, min_duration_s: 0}}
{extra}
"""


def build(folder: pathlib.Path, out: pathlib.Path, beam_args: list[str], window: float = WINDOW_S,
          extra: str = "") -> tuple[float, int]:
    """Runs `tunescribe build` in a fresh process; returns (wall seconds, peak RSS of the run in MiB)."""
    config = folder / f"config-{out.name}.yaml"
    config.write_text(CONFIG.format(out=out, manifest=folder / "manifest.jsonl", window=window, extra=extra))
    code = ("import resource, sys, time; from tunescribe.pipelines.cli import main; t = time.perf_counter(); "
            "rc = main(sys.argv[1:]); print('WALL', time.perf_counter() - t); "
            "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "build", str(config), *beam_args],
                          capture_output=True, text=True, cwd=folder)
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("WALL", "RSS")))
    own, children = (int(x) for x in lines["RSS"].split())
    return float(lines["WALL"]), max(own, children) // 1024


def naive_script(files, out: pathlib.Path) -> float:
    """What a one-off script does: librosa.load each file, compute the same kind of stats and
    attributes with the libraries' high-level calls, write each 10 s clip with soundfile and its
    metadata with json. One process, one file at a time."""
    import warnings

    import librosa
    import pyloudnorm
    import soundfile as sf

    warnings.filterwarnings("ignore", message="n_fft=")  # UI sounds shorter than librosa's FFT
    out.mkdir(parents=True, exist_ok=True)
    meter = pyloudnorm.Meter(RATE)
    started = time.perf_counter()
    for path in files:
        y, sr = librosa.load(str(path), sr=RATE, mono=True)
        win = int(WINDOW_S * sr)
        for i, lo in enumerate(range(0, len(y), win)):
            clip = y[lo: lo + win]
            if len(clip) < 2 * sr and i:
                continue
            meta = {"file": path.name, "clip": i, "duration_s": len(clip) / sr,
                    "peak": float(np.abs(clip).max()), "rms": float(np.sqrt(np.mean(clip ** 2)))}
            if len(clip) >= int(0.4 * sr):
                meta["loudness"] = float(meter.integrated_loudness(clip))
            rms = librosa.feature.rms(y=clip)[0]
            meta["silence_ratio"] = float(np.mean(rms < 1e-3))
            y22 = librosa.resample(clip, orig_sr=sr, target_sr=22050)
            tempo, _ = librosa.beat.beat_track(y=y22, sr=22050)
            meta["tempo"] = float(np.atleast_1d(tempo)[0])
            meta["chroma"] = librosa.feature.chroma_cqt(y=y22, sr=22050).mean(axis=1).tolist()
            sf.write(out / f"{path.stem}_{i}.flac", clip, sr, format="FLAC", subtype="PCM_16")
            with open(out / f"{path.stem}_{i}.json", "w") as f:
                json.dump(meta, f)
    return time.perf_counter() - started


def p2(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        files = dev_corpus(folder, args.copies)
        seconds = audio_seconds(files)
        print(f"P2: {len(files)} files, {seconds:.0f} s of audio; {conditions()}")
        naive_script(files[:2], folder / "warm")
        naive = naive_script(files, folder / "naive")
        print(f"  naive script (librosa.load + pyloudnorm + beat_track + chroma_cqt + soundfile + json): {naive:6.1f} s")
        for label, beam_args in [("1 process", []),
                                 ("2 worker processes", ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])]:
            took, _ = build(folder, folder / f"out-{len(beam_args)}", beam_args)
            print(f"  tunescribe build ({label}, stats+VAD+attributes, shards+tables): {took:6.1f} s"
                  f"  naive/tunescribe = {naive / took:4.2f}x")


def p3(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        files = dev_corpus(folder, args.copies)
        print(f"P3: {len(files)} files, {audio_seconds(files):.0f} s of audio; {conditions()}")
        one, _ = build(folder, folder / "w1", ["--direct_num_workers=1", "--direct_running_mode=multi_processing"])
        two, _ = build(folder, folder / "w2", ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
        print(f"  1 worker {one:6.1f} s   2 workers {two:6.1f} s   speed-up {one / two:4.2f}x   ({conditions()})")


def synthetic_sources(folder: pathlib.Path, n: int, seconds: float = 10.0, rate: int = 16000) -> None:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    template = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    with open(folder / "manifest.jsonl", "w") as manifest:
        for i in range(n):
            name = f"s{i:05d}.flac"
            noise = rng.standard_normal(template.shape[0]).astype(np.float32) * 0.01
            sf.write(folder / name, template * (0.5 + (i % 7) / 10) + noise, rate, format="FLAC")
            manifest.write(json.dumps({"file": name}) + "\n")


PATH_ONLY = """
import resource, sys, time
import apache_beam as beam
from tunescribe.schemas import SourceItem
from tunescribe.transforms.attributes.extract import ExtractAttributes, make_extractor
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.encode import EncodeAudio
from tunescribe.transforms.audio.segment import SegmentClips
from tunescribe.transforms.audio.stats import ComputeAudioStats
folder, n = sys.argv[1], int(sys.argv[2])
items = [SourceItem(source_id=f"s{i:05d}", uri=f"{folder}/s{i:05d}.flac", input_uri=folder, order=(0, i))
         for i in range(n)]
t = time.perf_counter()
with beam.Pipeline() as p:
    (p | beam.Create(items) | beam.ParDo(DecodeAudio(16000, 1)) | beam.ParDo(SegmentClips(1.0, 1.0))
     | beam.ParDo(ComputeAudioStats()) | beam.ParDo(ExtractAttributes((make_extractor("librosa"),)))
     | beam.ParDo(EncodeAudio()) | beam.Map(lambda c: len(c.audio)) | beam.combiners.Count.Globally())
print("WALL", time.perf_counter() - t)
print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""


def path_only(folder: pathlib.Path, sources: int) -> tuple[float, int]:
    """decode -> segment -> stats -> attributes -> encode as a Beam pipeline of these stages alone."""
    proc = subprocess.run([sys.executable, "-c", PATH_ONLY, str(folder), str(sources)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"audio path failed:\n{proc.stderr[-3000:]}")
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("WALL", "RSS")))
    return float(lines["WALL"]), int(lines["RSS"].split()[0]) // 1024


def p4(args) -> None:
    figures = {}
    for clips in (args.small, args.large):
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            synthetic_sources(folder, clips // 10)  # 10 s sources cut into 1 s clips
            took, rss = path_only(folder, clips // 10)
            figures["path", clips] = rss
            print(f"P4: {clips:6d} clips, audio path stages only:   {took:6.1f} s, peak RSS {rss} MiB   ({conditions()})")
            if args.path_only:
                continue
            took, rss = build(folder, folder / "out", [], window=1.0, extra="audio: {sample_rate: 16000}")
            figures["build", clips] = rss
            print(f"P4: {clips:6d} clips, whole tunescribe build: {took:6.1f} s, peak RSS {rss} MiB   ({conditions()})")
    for what in ("path", "build"):
        if (what, args.large) in figures:
            ratio = figures[what, args.large] / figures[what, args.small]
            print(f"  {what}: peak RSS ratio {args.large} / {args.small} clips = {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["p1", "p2", "p3", "p4"])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--path-only", action="store_true", help="p4: skip the whole-build runs")
    args = parser.parse_args()
    {"p1": p1, "p2": p2, "p3": p3, "p4": p4}[args.which](args)


if __name__ == "__main__":
    main()
