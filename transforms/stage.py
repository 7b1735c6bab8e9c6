"""How a stage reports a rejected element, and how the pipeline routes it to the rejects table.

A stage's DoFn raises `Rejected(reason, detail)` for the element it was given and refuses whole
(bad file, silent clip...), with `transient=True` when the failure is of the moment rather than of
the element (network down, endpoint rate-limited, a file not there yet): the reject says so and the
next run tries again.
`RunStage` applies the DoFn with Beam's `with_exception_handling`, so every exception — expected
`Rejected` or an unexpected bug in a library — becomes a reject record naming the stage, and the
run goes on. Nothing is dropped silently: an element either yields outputs or a reject.
`RunModel` does the same for the model stages' RunInference (a failed batch: a reject per example).
A step that rejects something other than its element whole (a duplicate of another element, one
caption of a clip that goes on) cannot raise: it yields `rejected_output(reject_of(...))`. Either
way the record is made by `reject_of` and leaves under the `REJECTS` tag.
A full disk is the exception: it stops the run (`stop_on_disk_full`), whichever route it takes.
"""

from __future__ import annotations

import ast
import errno
import json
import logging
import time

import apache_beam as beam

from tunescribe.schemas import Reject

log = logging.getLogger(__name__)

REJECTS = "rejects"  # the output tag of reject records (`rejected_output`)
# Errors of the machine, not of the element: a full disk (or a file size limit, a quota) would
# otherwise turn every following element into a reject and "finish" an empty corpus.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
DETAIL_KEPT = 2000  # characters of an unexpected error's repr a reject keeps


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


def stop_on_disk_full(stage: str, exc: BaseException) -> None:
    """Raises a disk-full error (by its errno) again, to stop the run: it is no fault of the element,
    and would otherwise turn every following one into a reject. Names the file it was writing, or
    else the stage."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        raise OSError(exc.errno, exc.strerror, exc.filename or f"stage {stage}") from exc


def rejected_of(stage: str, exc: BaseException) -> Rejected:
    """What an exception caught in `stage` means for its element: the Rejected it is, else an
    unexpected_error, transient (a bug or a library failure: maybe fixed, or of the moment, by the
    next run). A full disk stops the run instead."""
    stop_on_disk_full(stage, exc)
    if isinstance(exc, Rejected):
        return exc
    log.warning("unexpected error in stage %s", stage, exc_info=exc)
    return Rejected("unexpected_error", f"{type(exc).__name__}: {exc!r}"[:DETAIL_KEPT], transient=True)


def dead_letter_rejected(stage: str, error: tuple, reason: str = "unexpected_error") -> Rejected:
    """`rejected_of` for Beam's dead letters, which carry the exception as (type, repr, traceback
    lines): a Rejected comes back whole from its JSON repr, an OSError from its literal args
    `(errno, strerror)`; any other error is `reason`, transient."""
    exc_type, exc_repr, traceback_lines = error
    if issubclass(exc_type, Rejected):
        return Rejected.from_repr(exc_repr)
    if issubclass(exc_type, OSError):
        try:
            args = ast.literal_eval(exc_repr[len(exc_type.__name__):] or "()")
        except (ValueError, SyntaxError):  # args that are not literals: no errno to read
            args = ()
        # Plain OSError: a subclass's own constructor may not take its args back.
        stop_on_disk_full(stage, OSError(*args) if isinstance(args, tuple) else OSError(args))
    log.warning("unexpected error in stage %s:\n%s", stage, "".join(traceback_lines))
    return Rejected(reason, f"{exc_type.__name__}: {exc_repr}"[:DETAIL_KEPT], transient=True)


def reject_of(stage: str, element, rejected: Rejected, part: str | None = None) -> Reject:
    """The reject record of `element` (a source item, a clip, or a whole input's path) refused by
    `stage`; `part`: the part of it that failed while it went on (one caption)."""
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
        part=part,
        transient=transient,
    )


def rejected_output(reject: Reject) -> beam.pvalue.TaggedOutput:
    """A reject record as a DoFn yields it while it goes on (see the module doc)."""
    return beam.pvalue.TaggedOutput(REJECTS, reject)


class RunModel(beam.PTransform):
    """RunInference(handler) with one failure path for every model stage: examples ->
    (predictions, failures), where each example of a batch whose inference raised comes out as
    (example, Rejected "inference_failed", transient: out of memory, a dropped device, a library
    error may not happen next time). A full disk stops the run instead (`rejected_of`)."""

    def __init__(self, handler, stage: str):
        super().__init__()
        self.handler, self.stage = handler, stage

    def expand(self, examples):
        from apache_beam.ml.inference.base import RunInference

        predicted, other = examples | "RunInference" >> RunInference(self.handler).with_exception_handling()
        stage = self.stage
        failed = other.failed_inferences | "FailedBatches" >> beam.FlatMapTuple(
            lambda batch, error: [(example, dead_letter_rejected(stage, error, "inference_failed"))
                                  for example in batch])
        return predicted, failed


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
            lambda element, error: reject_of(stage, element, dead_letter_rejected(stage, error)))
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
