"""Benchmarks of the fetch stage against a local HTTP server (127.0.0.1 only; not timed tests).

  python benchmarks/fetch.py concurrency [--files 16 --latency 0.3]   per_host 1 vs 4 (4 threads)
  python benchmarks/fetch.py stream [--mib 256]                       MiB/s and peak Python memory
  python benchmarks/fetch.py sections [--n 8]                         yt-dlp section vs whole download

Each prints figures and ratios measured in one run, with the load average (figures depend on
what else runs on the machine).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import pathlib
import sys
import tempfile
import time
import tracemalloc

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from audio_files import write_audio  # noqa: E402
from media_server import serving  # noqa: E402

from tunescribe.transforms.ingest.remote import RemoteOptions, fetch_http, http_filesystem  # noqa: E402
from tunescribe.transforms.ingest.youtube import YoutubeOptions, download_audio  # noqa: E402


def concurrency(args, root, server):
    write_audio(root / "tone.ogg", seconds=2.0)
    times = {}
    for per_host in (1, 4):
        options = RemoteOptions(timeout_s=10, retries=0, per_host=per_host)
        fs = http_filesystem(options)
        with tempfile.TemporaryDirectory() as out, concurrent.futures.ThreadPoolExecutor(4) as pool:
            t = time.perf_counter()
            list(pool.map(lambda i: fetch_http(f"{server.url}/slow/tone.ogg", f"{out}/{i}", fs, options),
                          range(args.files)))
            times[per_host] = time.perf_counter() - t
        print(f"per_host={per_host}: {args.files} files (0.3 s server latency each) in {times[per_host]:.2f} s")
    print(f"ratio per_host 1 / per_host 4: {times[1] / times[4]:.2f}x")


def stream(args, root, server):
    (root / "big.wav").write_bytes(b"RIFF\0\0\0\0WAVEfmt " + bytes(args.mib << 20))
    options = RemoteOptions(timeout_s=10, retries=0, max_bytes=2 << 30)
    fs = http_filesystem(options)
    with tempfile.TemporaryDirectory() as out:
        tracemalloc.start()
        t = time.perf_counter()
        fetch_http(f"{server.url}/audio/big.wav", f"{out}/big.wav", fs, options)
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"{args.mib} MiB in {elapsed:.2f} s = {args.mib / elapsed:.0f} MiB/s; "
          f"peak Python memory {peak / 2**20:.1f} MiB ({peak / (args.mib << 20):.3f} of the body)")


def sections(args, root, server):
    write_audio(root / "long.flac", seconds=300.0)  # (libsndfile crashes writing long Ogg in one call)
    remote = RemoteOptions(timeout_s=10, retries=0)
    times, sizes = {}, {}
    for name, opts in (("section 10 s", YoutubeOptions()), ("whole 300 s", YoutubeOptions(sections=False))):
        t = time.perf_counter()
        for i in range(args.n):
            with tempfile.TemporaryDirectory() as out:
                path, _ = download_audio(f"{server.url}/page/long.flac.html", 100.0, 110.0, out, opts, remote)
                size = os.path.getsize(path)
        times[name], sizes[name] = (time.perf_counter() - t) / args.n, size
        print(f"{name}: {times[name]:.2f} s per download, file {size / 1024:.0f} KiB")
    # Over loopback bandwidth is free, so time favours the whole file; on a real link the bytes count.
    print(f"ratio whole / section: time {times['whole 300 s'] / times['section 10 s']:.2f}x, "
          f"bytes kept {sizes['whole 300 s'] / sizes['section 10 s']:.1f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["concurrency", "stream", "sections"])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp, serving(pathlib.Path(tmp) / "served") as server:
        globals()[args.what](args, server.root, server)


if __name__ == "__main__":
    main()
