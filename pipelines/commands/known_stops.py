"""Run-level stops a command reports as one clear message and an exit code, not a traceback:
the output filesystem is full (or a file size limit is hit), or the error-ratio guard tripped.

Beam re-raises a worker's exception in the launching process (DirectRunner keeps its type; an
OSError comes back as a RuntimeError caused by it), and logs it with its traceback first. The
filter below drops that log record for these two known stops only: any other failure keeps its
traceback, as a bug should."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from typing import Callable, Optional, TypeVar

from tunescribe.pipelines.commands import EXIT_DISK_FULL, EXIT_GUARD
from tunescribe.transforms.corpus.guard import ErrorRatioExceeded
from tunescribe.transforms.stage import DISK_FULL_ERRNOS

T = TypeVar("T")


def _chain(exc: Optional[BaseException]):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def known_stop(exc: BaseException) -> Optional[BaseException]:
    """The disk-full OSError or ErrorRatioExceeded in `exc`'s chain, if any."""
    for e in _chain(exc):
        if isinstance(e, ErrorRatioExceeded) or (isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS):
            return e
    # Runners that re-raise only the text of a worker's error (e.g. "OSError: [Errno 28] ...").
    found = re.search(r"\[Errno (\d+)\]", str(exc))
    if found and int(found.group(1)) in DISK_FULL_ERRNOS:
        number = int(found.group(1))
        return OSError(number, os.strerror(number), None)
    return None


def stop_message(exc: BaseException, output: str) -> Optional[tuple[int, str]]:
    """(exit code, message) for a known stop, None for anything else."""
    stop = known_stop(exc)
    if stop is None:
        return None
    if isinstance(stop, ErrorRatioExceeded):
        return EXIT_GUARD, re.sub(r" \[while running '[^']*'\]", "", str(stop.args[0] if stop.args else stop))
    where = ""
    if stop.filename:  # a path, or "stage NAME" when RunStage re-raised it (stage.py)
        where = f" in {stop.filename}" if str(stop.filename).startswith("stage ") else f" writing {stop.filename}"
    return EXIT_DISK_FULL, (
        f"the run stopped: {os.strerror(stop.errno).lower()}{where} (output {output}). The corpus was not finished "
        f"(no manifest.json: the folder is not a complete corpus). Free space or choose another output, "
        f"then rerun: finished work is reused.")


class _DropKnownStops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        if info and info[1] is not None and known_stop(info[1]) is not None:
            return False
        return known_stop(Exception(record.getMessage())) is None or record.levelno < logging.ERROR


@contextlib.contextmanager
def quiet_known_stops():
    """While it is open, log handlers skip the traceback records of known stops."""
    handlers = logging.getLogger().handlers
    quiet = _DropKnownStops()
    for h in handlers:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(quiet)


def run_or_stop(work: Callable[[], T], output: str) -> tuple[int, Optional[T]]:
    """(0, work()) or, for a known stop, (its exit code, None) after printing its message;
    any other failure is raised, traceback and all."""
    try:
        with quiet_known_stops():
            return 0, work()
    except Exception as exc:  # noqa: BLE001 - known stops become a message; anything else re-raised
        stop = stop_message(exc, output)
        if stop is None:
            raise
        print(f"tunescribe: {stop[1]}", file=sys.stderr)
        return stop[0], None
