"""How a stage reports a rejected element, and how the pipeline routes it to the rejects table.

A stage's DoFn raises `Rejected(reason, detail)` for input it refuses (bad file, silent clip...),
with `transient=True` when the failure is of the moment rather than of the element (network down,
endpoint rate-limited, a file not there yet): the reject says so and the next run tries again.
`RunStage` applies the DoFn with Beam's `with_exception_handling`, so every exception — expected
`Rejected` or an unexpected bug in a library — becomes a reject record naming the stage, and the
run goes on. Nothing is dropped silently: an element either yields outputs or a reject.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import time

import apache_beam as beam

from tunescribe.schemas import Reject

log = logging.getLogger(__name__)

# Output tag under which stages that emit several rejects per element (joins, dedups) send them.
REJECTS = "rejects"
# Errors of the machine, not of the element: a full disk (or a file size limit, a quota) would
# otherwise turn every following element into a reject and "finish" an empty corpus.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class Rejected(Exception):
    """An element refused by a stage, with a stable snake_case reason code; `transient`: the
    failure may not happen again (the resume ledger retries the element on the next run)."""

    def __init__(self, reason: str, detail: str = "", transient: bool = False):
        super().__init__(reason, detail, transient)
        self.reason = reason
        self.detail = detail
        self.transient = transient

    # Beam's dead-letter output carries repr(exception), not the exception: its fields as JSON,
    # read back whole by `from_repr` (no text to split, whatever the detail holds).
    def __repr__(self) -> str:
        return json.dumps({"reason": self.reason, "detail": self.detail, "transient": self.transient})

    @classmethod
    def from_repr(cls, text: str) -> "Rejected":
        fields = json.loads(text)
        return cls(fields["reason"], fields["detail"], fields["transient"])


def disk_full_errno(exc_type: type, exc_repr: str, traceback_lines=()) -> int | None:
    """The errno of a disk-full OSError as Beam's dead-letter output describes it, else None."""
    if not issubclass(exc_type, OSError):
        return None
    found = re.search(r"\[Errno (\d+)\]", "".join(traceback_lines[-3:])) or re.match(r"\w*\((\d+), ", exc_repr)
    number = int(found.group(1)) if found else None
    return number if number in DISK_FULL_ERRNOS else None


def stop_on_disk_full(stage: str, exc_type: type, exc_repr: str, traceback_lines=()) -> None:
    """Raises a disk-full error again, to stop the run: it is no fault of the element. For every
    dead-letter route (RunStage's, and the failed batches of the RunInference stages)."""
    number = disk_full_errno(exc_type, exc_repr, traceback_lines)
    if number is not None:
        raise OSError(number, os.strerror(number), f"stage {stage}")  # "filename": where it happened


def to_reject(stage: str, element, exc_type: type, exc_repr: str, traceback_lines=()) -> Reject:
    """Builds the reject record for an element that failed in `stage`; a disk-full error stops
    the run instead."""
    stop_on_disk_full(stage, exc_type, exc_repr, traceback_lines)
    if issubclass(exc_type, Rejected):
        rejected = Rejected.from_repr(exc_repr)
    else:  # a bug or a library failure: maybe fixed, or of the moment, by the next run
        rejected = Rejected("unexpected_error", f"{exc_type.__name__}: {exc_repr}", transient=True)
        log.warning("unexpected error in stage %s:\n%s", stage, "".join(traceback_lines))
    return reject_of(stage, element, rejected)


def reject_of(stage: str, element, rejected: Rejected) -> Reject:
    """The reject record of `element` (a source item, a clip, or a whole input's path) refused by
    `stage`."""
    reason, detail, transient = rejected.reason, rejected.detail, rejected.transient
    if isinstance(element, str):  # a whole input (manifest or folder) that could not be read
        return Reject(source_id=element, stage=stage, reason=reason, detail=detail, input_uri=element,
                      transient=transient)
    return Reject(
        source_id=element.source_id,
        key=element.key,
        clip_index=element.clip_index,
        stage=stage,
        reason=reason,
        detail=detail,
        input_uri=element.input_uri,
        transient=transient,
    )


class RunStage(beam.PTransform):
    """Applies `dofn` and returns `(outputs, rejects)`; see the module docstring."""

    def __init__(self, stage: str, dofn: beam.DoFn, partial: bool = False, side_inputs: dict | None = None):
        super().__init__()
        self.stage = stage
        self.dofn = dofn
        self.side_input_kwargs = side_inputs or {}  # keyword -> beam.pvalue.AsSingleton(...) etc.
        # partial=True streams outputs as they come (a reader of a 10M-row manifest must not
        # buffer them all); outputs made before a failure are kept, the failure is a reject.
        self.partial = partial

    def expand(self, pcoll):
        good, bad = pcoll | beam.ParDo(self.dofn, **self.side_input_kwargs).with_exception_handling(
            main_tag="good", dead_letter_tag="bad", partial=self.partial
        )
        stage = self.stage
        rejects = bad | "ToReject" >> beam.MapTuple(
            lambda element, error: to_reject(stage, element, *error)
        )
        return good | "Progress" >> beam.ParDo(_Progress(stage)), rejects


class _Progress(beam.DoFn):
    """Counts a stage's outputs (Beam metrics) and logs the count now and then, per worker."""

    EVERY_S = 10.0

    def __init__(self, stage: str):
        self.stage = stage

    def setup(self):
        self.counter = beam.metrics.Metrics.counter("stages", self.stage)
        self.n, self.last = 0, time.monotonic()

    def process(self, element):
        self.counter.inc()
        self.n += 1
        if time.monotonic() - self.last > self.EVERY_S:
            self.last = time.monotonic()
            log.info("%s: %d done (this worker)", self.stage, self.n)
        yield element
