"""The progress of a running build, as one line, fed by what the resume ledger commits.

A background thread polls the run's ledger folder (Beam's FileSystems: gs:// works too), reads each
new ledger file once (they are immutable) and tallies sources and clips with a final outcome, the
audio accepted, and rejects by stage. The totals come from `<output>/.tunescribe/progress.json`,
written by the pipeline once it knows which items it will process (transforms/sinks/progress.py).

On a terminal the line is rewritten in place; elsewhere (CI logs, nohup) it is printed as a plain
line every N seconds, and once more at the end, so a log always shows how far a run got.
Beam-free, apart from its filesystems: the line never slows or stops the build, whatever it meets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from typing import Callable, Optional, TextIO

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas.layout import source_key_of
from tunescribe.transforms.sinks.compact import COMPACT_PREFIX
from tunescribe.transforms.sinks.files import list_files, read_bytes
from tunescribe.transforms.sinks.ledger import ACCEPTED, CLIPS, REJECTS

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often a terminal's line is refreshed
READ_TRIES = 3  # a ledger file that cannot be read this often is left out (it may have been compacted away)
# The ledger columns the tally needs: never the audio (and a column a ledger lacks is left out).
COLUMNS = ("item", "kind", "key", "stage", "clips", "clip.duration_s")
CLEAR_TO_END = "\x1b[K"


class LedgerTally:
    """What this run's ledger records say so far: which sources and clips have their outcome."""

    def __init__(self):
        self.listed: dict[str, tuple[str, ...]] = {}  # item -> the clip keys it was cut into
        self.settled: set[str] = set()  # clip keys accepted or rejected
        self.rejected_items: set[str] = set()  # items rejected as a whole
        self.done: set[str] = set()  # items whose every outcome is in
        self.durations: dict[str, float] = {}  # accepted clip key -> seconds
        self.rejects: set[tuple[str, str]] = set()  # (stage, key): a retried bundle commits twice

    def add(self, rows: list[dict]) -> None:
        touched = set()
        for r in rows:
            key, kind = r["key"], r["kind"]
            item = r.get("item") or source_key_of(key)
            if kind == CLIPS:
                self.listed[item] = tuple(r.get("clips") or ())
            elif kind == ACCEPTED:
                self.settled.add(key)
                self.durations[key] = ((r.get("clip") or {}).get("duration_s")) or 0.0
            elif kind == REJECTS:
                self.rejects.add((r.get("stage") or "?", key))
                if key == item:
                    self.rejected_items.add(item)
                else:
                    self.settled.add(key)
            else:
                continue
            touched.add(item)
        for item in touched - self.done:
            if item in self.rejected_items or (item in self.listed and self.settled.issuperset(self.listed[item])):
                self.done.add(item)

    @property
    def sources_done(self) -> int:
        return len(self.done)

    @property
    def clips_done(self) -> int:
        return len(self.settled)

    @property
    def audio_s(self) -> float:
        return sum(self.durations.values())

    def rejects_by_stage(self) -> dict[str, int]:
        return dict(sorted(Counter(stage for stage, _ in self.rejects).items()))


def _readable_columns(schema) -> list[str]:
    """COLUMNS that this file has (a nested one as `struct.field`)."""
    out = []
    for column in COLUMNS:
        top, _, child = column.partition(".")
        if top not in schema.names:
            continue
        typ = schema.field(top).type
        if not child or (hasattr(typ, "get_field_index") and typ.get_field_index(child) >= 0):
            out.append(column)
    return out


def read_tally_rows(path: str) -> list[dict]:
    """The records of one ledger file, with just the columns the tally reads."""
    # From bytes, in this thread: readers.read_table says why (Arrow threads and interpreter exit).
    parquet = pq.ParquetFile(pa.BufferReader(read_bytes(path)))
    return parquet.read(columns=_readable_columns(parquet.schema_arrow), use_threads=False).to_pylist()


def read_totals(path: str) -> Optional[dict]:
    """{"items": N, "restored": M} once the pipeline has written it, else None."""
    try:
        return json.loads(read_bytes(path)) if FileSystems.exists(path) else None
    except (OSError, ValueError):
        return None


def duration_text(seconds: float) -> str:
    """2m10s, 1h05m: as precise as a glance needs."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def audio_text(seconds: float) -> str:
    return f"{seconds / 60:.1f} min audio" if seconds < 3600 else f"{seconds / 3600:.1f} h audio"


def rate_text(per_s: float) -> str:
    return f"{per_s:.1f} clips/s" if per_s >= 1 else f"{per_s:.2f} clips/s"


def cut(text: str, width: Optional[int]) -> str:
    """The text fitted to a terminal line (one column spare: a full line would wrap on some terminals)."""
    if width is None or len(text) < width:
        return text
    return text[:max(0, width - 2)] + "…"


def progress_line(tally: LedgerTally, totals: Optional[dict], elapsed_s: float, width: Optional[int] = None) -> str:
    """sources 41/60 · clips 1,212 · 3.4 h audio · 9.8 clips/s · ETA 2m10s · rejects decode 2, quality 17"""
    elapsed_s = max(elapsed_s, 1e-9)
    parts = ["sources listing…"]
    if totals is not None:
        total, restored = totals["items"] + totals["restored"], totals["restored"]
        parts = [f"sources {restored + tally.sources_done:,}/{total:,}"]
    parts += [f"clips {tally.clips_done:,}", audio_text(tally.audio_s), rate_text(tally.clips_done / elapsed_s)]
    if totals is not None:
        parts.append(eta_text(tally.sources_done, totals["items"], elapsed_s))
    rejects = tally.rejects_by_stage()
    if rejects:
        parts.append("rejects " + ", ".join(f"{stage} {n:,}" for stage, n in rejects.items()))
    return cut(" · ".join(parts), width)


def eta_text(done: int, to_do: int, elapsed_s: float) -> str:
    """Time left at this run's pace so far (restored items took no time, so they are left out).
    Once every source is done, what is left is the corpus itself: shards, tables, report."""
    if done >= to_do:
        return "finishing"
    if done == 0:
        return "ETA –"
    return f"ETA {duration_text((to_do - done) * elapsed_s / done)}"


def terminal_width(stream: TextIO) -> Optional[int]:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


class _ClearBeforeLogs(logging.Filter):
    """Log records would otherwise be written after the live line, on the same row."""

    def __init__(self, reporter: "ProgressReporter"):
        super().__init__()
        self.reporter = reporter

    def filter(self, record: logging.LogRecord) -> bool:
        self.reporter._safely(self.reporter.clear)
        return True


class ProgressReporter:
    """Shows a build's progress from its ledger folder while it runs: `start()` before the
    pipeline runs (ledger files already there are an earlier run's, left out), `stop()` after."""

    def __init__(self, ledger_dir: str, totals_path: str, every_s: float, stream: TextIO = None,
                 live: Optional[bool] = None, clock: Callable[[], float] = time.monotonic):
        self.ledger_dir, self.totals_path, self.every_s = ledger_dir.rstrip("/"), totals_path, every_s
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.clock, self.tally, self.totals = clock, LedgerTally(), None
        self.started = clock()
        self.seen: set[str] = set()  # ledger files read, or earlier runs'
        self.failed_reads: Counter = Counter()
        self.shown, self.lock, self.stopping = False, threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tunescribe-progress", daemon=True)
        self.log_filter = _ClearBeforeLogs(self)

    def start(self) -> "ProgressReporter":
        self.started = self.clock()
        self._safely(lambda: self.seen.update(path for path, _ in list_files(f"{self.ledger_dir}/*.parquet")))
        if self.live:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self.log_filter)
        self.thread.start()
        return self

    def stop(self, finished: bool = True) -> None:
        """Ends the line: cleared on a terminal when the run finished (its summary follows), kept
        when it failed (so the last state stays in sight); elsewhere, one last plain line."""
        self.stopping.set()
        if self.thread.ident is not None:  # started
            self.thread.join()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self.log_filter)
        self._safely(self.poll)
        if not self.live:
            self._safely(lambda: self._write(self.line() + "\n"))
        elif finished:
            self._safely(self.clear)
        else:
            self._safely(lambda: self._write(f"\r{self.line(terminal_width(self.stream))}{CLEAR_TO_END}\n"))

    def poll(self) -> None:
        """Reads the ledger files that are new since the last poll, and the totals until they appear."""
        if self.totals is None:
            self.totals = read_totals(self.totals_path)
        for path, _ in list_files(f"{self.ledger_dir}/*.parquet"):
            if path in self.seen or path.rsplit("/", 1)[-1].startswith(COMPACT_PREFIX):
                continue  # compacted files hold only what is already counted, or what was restored
            try:
                rows = read_tally_rows(path)
            except Exception:  # noqa: BLE001 - gone (compacted) or not readable now: try again later
                self.failed_reads[path] += 1
                if self.failed_reads[path] >= READ_TRIES:
                    self.seen.add(path)
                continue
            self.tally.add(rows)
            self.seen.add(path)

    def line(self, width: Optional[int] = None) -> str:
        return progress_line(self.tally, self.totals, self.clock() - self.started, width)

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\r" + CLEAR_TO_END)
                self.stream.flush()
                self.shown = False

    def _write(self, text: str) -> None:
        with self.lock:
            self.stream.write(text)
            self.stream.flush()
            self.shown = self.live and not text.endswith("\n")

    def _show(self) -> None:
        self.poll()
        if self.live:
            self._write(f"\r{self.line(terminal_width(self.stream))}{CLEAR_TO_END}")
        else:
            self._write(self.line() + "\n")

    def _loop(self) -> None:
        interval = POLL_S if self.live else self.every_s
        while not self.stopping.wait(interval):
            self._safely(self._show)

    def _safely(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:  # noqa: BLE001 - the progress line must never stop the build
            log.debug("progress line failed", exc_info=True)


@contextlib.contextmanager
def progress_shown(ledger_dir: str, totals_path: str, every_s: float):
    """Shows the progress line while the block runs (nothing when `every_s` is 0)."""
    if every_s <= 0:
        yield
        return
    reporter = ProgressReporter(ledger_dir, totals_path, every_s).start()
    try:
        yield
    except BaseException:
        reporter.stop(finished=False)
        raise
    reporter.stop()
