"""What the scale benchmarks share: the peak memory of a process tree, the machine's load, a
`tunescribe build` subprocess with its config, and the corpus's disk use and shard hashes.

Everything goes through the installed `tunescribe` command (the console script beside this Python,
else on PATH), so the scripts measure whatever tunescribe is installed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import resource
import shlex
import shutil
import subprocess
import sys
import threading
import time

import psutil
import yaml

GiB, MiB = 2**30, 2**20


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} cpus, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def children_cpu_s() -> float:
    """CPU seconds of every process this one has waited for (a build and the workers it waited for)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class TreeSampler:
    """Samples a process and all its descendants every `interval` s in a thread and keeps the peak of
    the SUM of their RSS (pages shared between processes count once per process: an upper bound on
    the tree's footprint), the peak RSS of the largest single process, and the most processes seen."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_sum = 0
        self.peak_single = 0
        self.peak_single_name = ""
        self.peak_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._cache: dict[int, psutil.Process] = {}

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _procs(self) -> list[psutil.Process]:
        try:
            found = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []
        # keep Process objects across samples: psutil caches what it can (name, create time)
        procs = []
        for p in found:
            procs.append(self._cache.setdefault(p.pid, p))
        return procs

    def sample(self) -> None:
        total, count = 0, 0
        for p in self._procs():
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            count += 1
            if rss > self.peak_single:
                self.peak_single = rss
                try:
                    self.peak_single_name = f"pid {p.pid} {short_cmd(p.cmdline())}"
                except psutil.Error:
                    self.peak_single_name = f"pid {p.pid}"
        self.samples += 1
        self.peak_sum = max(self.peak_sum, total)
        self.peak_procs = max(self.peak_procs, count)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def short_cmd(cmd: list[str], width: int = 60) -> str:
    text = " ".join(pathlib.Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd)) if cmd else "?"
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclasses.dataclass
class Run:
    """One measured subprocess."""

    label: str
    rc: int
    wall_s: float
    cpu_s: float
    peak_rss: int
    peak_single_rss: int
    peak_single_name: str
    peak_procs: int
    log: pathlib.Path

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0

    def memory_line(self) -> str:
        return (f"peak RSS {fmt_bytes(self.peak_rss)} (process tree, sum; up to {self.peak_procs} processes), "
                f"largest process {fmt_bytes(self.peak_single_rss)}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def run_measured(label: str, cmd: list[str], log: pathlib.Path, cwd: pathlib.Path | None = None,
                 env: dict | None = None, interval: float = 0.2, check: bool = True) -> Run:
    """Runs `cmd` with stdout+stderr to `log`, sampling its process tree's memory; wall and CPU seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cpu0 = children_cpu_s()
    with open(log, "w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env={**os.environ, **(env or {})})
        with TreeSampler(proc.pid, interval) as sampler:
            rc = proc.wait()
        wall = time.perf_counter() - started
    run = Run(label, rc, wall, children_cpu_s() - cpu0, sampler.peak_sum, sampler.peak_single,
              sampler.peak_single_name, sampler.peak_procs, log)
    if check and rc != 0:
        raise SystemExit(f"{label} failed (exit {rc}): {shlex.join(cmd)}\n--- last lines of {log}:\n{run.tail()}")
    return run


def tunescribe_cmd() -> list[str]:
    """The installed `tunescribe` command: the console script of this Python's environment, else PATH."""
    beside = pathlib.Path(sys.executable).parent / "tunescribe"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tunescribe")
    if found:
        return [found]
    raise SystemExit("no `tunescribe` command: pip install -e . in this environment")


def write_config(path: pathlib.Path, inputs: pathlib.Path | list[dict], output: pathlib.Path,
                 name: str = "bench", extra: dict | None = None) -> pathlib.Path:
    """A build config: the defaults, a folder input (or the given input list), plus `extra` sections
    (e.g. {"stats": {"speech": False}, "attributes": {"extractors": []}})."""
    inputs_list = inputs if isinstance(inputs, list) else [{"type": "folder", "path": str(inputs)}]
    config = {"name": name, "output": str(output), "inputs": inputs_list, **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def parse_extra(text: str | None) -> dict:
    """A YAML mapping given on the command line (e.g. '{stats: {speech: false}}'), or {}."""
    if not text:
        return {}
    value = yaml.safe_load(text)
    if not isinstance(value, dict):
        raise SystemExit(f"expected a YAML mapping, got {text!r}")
    return value


def run_build(label: str, config: pathlib.Path, output: pathlib.Path, build_args: list[str],
              log: pathlib.Path, fresh: bool = True) -> Run:
    """`tunescribe build CONFIG --output OUTPUT [build_args]` in a fresh process, measured."""
    if fresh and output.exists():
        shutil.rmtree(output)
    cmd = [*tunescribe_cmd(), "build", str(config), "--output", str(output), *build_args]
    return run_measured(label, cmd, log)


def read_stats(output: pathlib.Path) -> dict:
    try:
        return json.loads((output / "stats.json").read_text())
    except (OSError, ValueError):
        return {}


def corpus_audio_s(output: pathlib.Path) -> float | None:
    """Seconds of audio in the corpus: the sum of the clip table's duration_s (None if unreadable)."""
    try:
        import pyarrow.parquet as pq

        files = sorted((output / "clips").glob("*.parquet"))
        return float(sum(pq.read_table(f, columns=["duration_s"]).column(0).to_numpy().sum() for f in files))
    except Exception:  # noqa: BLE001 - a layout this script does not know
        return None


def tree_bytes(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def disk_use(output: pathlib.Path) -> dict[str, int]:
    """Bytes of the corpus folder: total, shards/, .tunescribe/ and each entry directly under it."""
    use = {"total": tree_bytes(output), "shards": tree_bytes(output / "shards") if (output / "shards").exists() else 0}
    work = output / ".tunescribe"
    if work.exists():
        use[".tunescribe"] = tree_bytes(work)
        for entry in sorted(work.iterdir()):
            use[f".tunescribe/{entry.name}"] = tree_bytes(entry)
    return use


def disk_lines(use: dict[str, int], indent: str = "    ") -> list[str]:
    shards = use.get("shards") or 0

    def ratio(n):
        return f"  ({n / shards:.2f}x shards)" if shards else ""

    lines = [f"{indent}corpus folder {fmt_bytes(use['total'])}; shards {fmt_bytes(shards)}"]
    for key, value in use.items():
        if key.startswith(".tunescribe"):
            lines.append(f"{indent}{'  ' if '/' in key else ''}{key:34s} {fmt_bytes(value):>11s}{ratio(value)}")
    return lines


def shard_hashes(output: pathlib.Path) -> dict[str, str]:
    """sha256 of every shard (.tar under shards/)."""
    out = {}
    for path in sorted((output / "shards").rglob("*.tar")):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[str(path.relative_to(output / "shards"))] = h.hexdigest()
    return out


def compare_shards(a: pathlib.Path, b: pathlib.Path) -> tuple[bool, str]:
    ha, hb = shard_hashes(a), shard_hashes(b)
    if not ha:
        return False, "no shards"
    if ha == hb:
        return True, f"all {len(ha)} shards byte-identical (sha256)"
    differ = sorted(n for n in set(ha) | set(hb) if ha.get(n) != hb.get(n))
    return False, f"{len(differ)} of {len(set(ha) | set(hb))} shards differ: {', '.join(differ[:4])}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
