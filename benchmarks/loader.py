"""Training-loader throughput vs the read+decode floor (not a timed test: figures measured in one run).

  python benchmarks/loader.py [--corpus DIR] [--tracks 24 --seconds 40] [--rounds 5]

The floor: one process reads every shard of the corpus with `tarfile` and decodes every FLAC
member with soundfile, nothing else. The loader: `CorpusStream` over all splits with shuffled
shards and a shuffle buffer, a random caption per sample (json parsed), the audio decoded to a
tensor (a 10 s window from the start: the whole clip, so the same decode as the floor), in
batches of 16 made in the stream (batch_size=16; DataLoader batch_size=None), with 0, 1 and 2
DataLoader workers; and for comparison 2 workers with the DataLoader batching instead. All of it
twice: float32 samples, then int16 (AudioSpec dtype), each against a floor decoding to that type. Each figure is the median of
--rounds epochs, taken in turns with the floor so that both see the same machine load; MB/s
counts shard bytes. CPU ms/sample counts this process and the loader's workers: on a machine
shared with other jobs, wall-time ratios also measure the neighbours (workers cannot use cores
that others hold), the CPU ratio measures only the loader's own cost. Without --corpus the script first builds one (benchmarks/synthetic_corpus.py
input: 10 s clips at 48 kHz mono FLAC).
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import statistics
import sys
import tarfile
import tempfile
import time

import soundfile as sf
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from tunescribe.pipelines.training import AudioSpec, CorpusStream, corpus_shards  # noqa: E402

WINDOW_S = 10.0


def build(folder: pathlib.Path, tracks: int, seconds: float) -> pathlib.Path:
    from synthetic_corpus import make_input

    from tunescribe.pipelines.commands.build import run_build, summary
    from tunescribe.pipelines.config import load_config

    config = make_input(folder, tracks, seconds, max_samples=16)
    config.write_text(config.read_text() + "stats: {speech: false}\n")
    started = time.monotonic()
    stats = run_build(load_config(str(config)), [])
    print(summary(stats, time.monotonic() - started), flush=True)
    return folder / "corpus"


def floor_epoch(paths: list[str], dtype: str) -> int:
    """Reads the shards and decodes their audio, nothing else; returns the samples decoded."""
    n = 0
    for path in paths:
        with tarfile.open(path, mode="r|") as tar:
            for info in tar:
                data = tar.extractfile(info).read()
                if info.name.endswith(".flac"):
                    sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
                    n += 1
    return n


def loader_epoch(loader, ds, epoch: int) -> int:
    ds.set_epoch(epoch)  # (persistent workers count their epochs themselves)
    n = 0
    for batch in loader:
        assert batch["audio"].dtype == getattr(torch, ds.decoder.audio.dtype) and len(batch["text"]) == len(batch["__key__"])
        n += len(batch["__key__"])
    return n


def cpu_seconds(loader) -> float:
    """CPU time of this process and of the loader's (persistent) worker processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for worker in getattr(getattr(loader, "_iterator", None), "_workers", []) or []:
        with open(f"/proc/{worker.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def timed(f, loader=None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and the loader's workers, f's result)."""
    cpu, started = cpu_seconds(loader), time.perf_counter()
    n = f()
    return time.perf_counter() - started, cpu_seconds(loader) - cpu, n


def measure(paths, corpus, dtype: str, args, nbytes: int, total: int) -> None:
    spec = AudioSpec(seconds=WINDOW_S, crop="start", dtype=dtype)
    batched = CorpusStream(str(corpus), None, audio=spec, captions="random", buffer=64, batch_size=args.batch_size)
    samples = CorpusStream(str(corpus), None, audio=spec, captions="random", buffer=64)
    # persistent workers, started by a warm-up epoch: a real training epoch is long enough that
    # forking the workers does not count; this corpus's short epochs would be dominated by it
    loaders = {f"{dtype} loader, {w} workers": (batched, torch.utils.data.DataLoader(
        batched, batch_size=None, num_workers=w, persistent_workers=w > 0)) for w in (0, 1, 2)}
    loaders[f"{dtype} 2 workers, DataLoader batching"] = (samples, torch.utils.data.DataLoader(
        samples, batch_size=args.batch_size, num_workers=2, persistent_workers=True))
    for ds, loader in loaders.values():
        assert loader_epoch(loader, ds, 0) == total
    floor_times, times = [], {name: [] for name in loaders}
    for r in range(args.rounds):
        for name, (ds, loader) in loaders.items():  # the floor in turn with each, under the same load
            seconds, cpu, n = timed(lambda: floor_epoch(paths, dtype))
            assert n == total
            floor_times.append((seconds, cpu))
            seconds, cpu, n = timed(lambda: loader_epoch(loader, ds, r + 1), loader)
            assert n == total, (n, total)
            times[name].append((seconds, cpu))
    floor_s, floor_cpu = (statistics.median(x) for x in zip(*floor_times))
    print(f"{f'{dtype} floor (read + decode)':40s} {total / floor_s:10.1f} {nbytes / 1e6 / floor_s:8.1f} {1:9.2f} "
          f"{1e3 * floor_cpu / total:14.2f} {1:9.2f}")
    for name, runs in times.items():
        s, cpu = (statistics.median(x) for x in zip(*runs))
        print(f"{name:40s} {total / s:10.1f} {nbytes / 1e6 / s:8.1f} {floor_s / s:9.2f} "
              f"{1e3 * cpu / total:14.2f} {floor_cpu / cpu:9.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a built corpus (default: build one in a temp folder)")
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each synthetic track")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the collate and tensor work stays in each process, as in training
    with tempfile.TemporaryDirectory() as tmp:
        corpus = pathlib.Path(args.corpus) if args.corpus else build(pathlib.Path(tmp), args.tracks, args.seconds)
        shards = corpus_shards(str(corpus), None)
        paths = [s.url for s in shards]
        nbytes = sum(os.path.getsize(p) for p in paths)
        total = sum(s.nsamples for s in shards)
        print(f"corpus {corpus}: {total} samples in {len(paths)} shards, {nbytes / 1e6:.1f} MB; "
              f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}", flush=True)
        floor_epoch(paths, "float32")  # page cache warm for everyone
        print(f"\n{'':40s} {'samples/s':>10s} {'MB/s':>8s} {'vs floor':>9s} {'CPU ms/sample':>14s} {'vs floor':>9s}")
        for dtype in ("float32", "int16"):
            measure(paths, corpus, dtype, args, nbytes, total)
        print(f"\nmedian of {args.rounds} epochs each; load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
