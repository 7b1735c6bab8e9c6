"""RunStage: refused and failing elements become reject records naming the stage; others pass."""

import errno
import os
import sys
import traceback
from urllib.error import HTTPError

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import ModelHandler, PredictionResult
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import SourceItem
from tunescribe.transforms.stage import (
    DISK_FULL_ERRNOS,
    Rejected,
    RunModel,
    RunStage,
    dead_letter_rejected,
    rejected_of,
)


class _Picky(beam.DoFn):
    def process(self, item):
        if item.source_id == "refused":
            raise Rejected("not_wanted", "because: reasons")
        if item.source_id == "broken":
            raise ZeroDivisionError("boom")
        yield item.source_id.upper()


def _item(sid):
    return SourceItem(source_id=sid, uri=f"/x/{sid}", input_uri="m.csv", order=(0, sid))


def test_outputs_and_rejects_are_routed():
    with beam.Pipeline() as p:
        good, bad = (p | beam.Create([_item("ok"), _item("refused"), _item("broken")])
                     | RunStage("picky", _Picky()))
        assert_that(good, equal_to(["OK"]), label="good")
        summary = bad | beam.Map(lambda r: (r.source_id, r.stage, r.reason, r.detail, r.key, r.input_uri))
        assert_that(summary, equal_to([
            ("refused", "picky", "not_wanted", "because: reasons", _item("refused").key, "m.csv"),
            ("broken", "picky", "unexpected_error", "ZeroDivisionError: ZeroDivisionError('boom')",
             _item("broken").key, "m.csv"),
        ]), label="bad")


def test_a_rejected_read_back_from_a_dead_letter_keeps_its_fields():
    """Beam's dead letters carry repr(exception): every field comes back as it was raised."""
    for raised in (Rejected("too_short", "1.0 s: short"), Rejected("network_error", 'a "quoted": detail', True)):
        back = Rejected.from_repr(repr(raised))
        assert (back.reason, back.detail, back.transient) == (raised.reason, raised.detail, raised.transient)
    assert dead_letter_rejected("fetch", (Rejected, repr(Rejected("timeout", "slow", True)), [])).transient
    bug = dead_letter_rejected("picky", (ZeroDivisionError, "ZeroDivisionError('boom')", []))
    assert (bug.reason, bug.transient) == ("unexpected_error", True)  # maybe fixed by then
    assert not dead_letter_rejected("picky", (Rejected, repr(Rejected("not_wanted", "no")), [])).transient
    denied = dead_letter_rejected("picky", (PermissionError, repr(PermissionError(errno.EACCES, "denied")), []))
    assert denied.reason == "unexpected_error"  # an OSError, but not a full disk: the element's reject
    odd = HTTPError("http://x/a.mp3", 500, "boom", {}, None)  # an OSError whose repr is no call
    assert dead_letter_rejected("fetch", (HTTPError, repr(odd), [])).reason == "unexpected_error"


def _dead_letter(exc: BaseException) -> tuple:
    """(type, repr, traceback lines), as Beam's dead letters carry an exception."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return type(caught), repr(caught), traceback.format_exception(*sys.exc_info())


@pytest.mark.parametrize("number", sorted(DISK_FULL_ERRNOS))
def test_a_full_disk_stops_the_run_by_its_errno(number):
    """Caught as an exception (the per-item chain) or read from a dead letter (RunStage, model
    stages), a disk-full OSError is raised again, naming the stage, instead of rejecting."""
    full = OSError(number, os.strerror(number))
    with pytest.raises(OSError) as stopped:
        rejected_of("encode", full)
    assert stopped.value.errno == number and stopped.value.filename == "stage encode"
    with pytest.raises(OSError) as stopped:
        dead_letter_rejected("tagging", _dead_letter(full), "inference_failed")
    assert stopped.value.errno == number and stopped.value.filename == "stage tagging"


class _Failing(ModelHandler):
    """A model that fails on the batches holding a negative number, with `error`."""

    def __init__(self, error: Exception):
        super().__init__()
        self.error = error

    def load_model(self):
        return None

    def run_inference(self, batch, model, inference_args=None):
        if min(batch) < 0:
            raise self.error
        return [PredictionResult(x, x * 2) for x in batch]

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 1}


def test_run_model_turns_a_failed_batch_into_transient_rejects():
    with beam.Pipeline() as p:
        predicted, failed = p | beam.Create([1, -1, 2]) | RunModel(_Failing(MemoryError("CUDA out of memory")), "tagging")
        assert_that(predicted | beam.Map(lambda r: r.inference), equal_to([2, 4]), label="predicted")
        assert_that(failed | beam.MapTuple(lambda x, r: (x, r.reason, r.transient, r.detail.split(":")[0])),
                    equal_to([(-1, "inference_failed", True, "MemoryError")]), label="failed")


def test_run_model_stops_the_run_on_a_full_disk():
    with pytest.raises(Exception, match="No space left on device"):
        with beam.Pipeline() as p:
            p | beam.Create([1, -1]) | RunModel(_Failing(OSError(errno.ENOSPC, "No space left on device")), "clap")


def test_rejects_leave_a_dofn_one_way():
    """A DoFn refuses its own element by raising Rejected; anything else it rejects leaves through
    `rejected_output`. No module builds the REJECTS output by hand, or names the tag anew."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    found = []
    for path in sorted([*(root / "transforms").rglob("*.py"), *(root / "pipelines").rglob("*.py")]):
        if path.name == "stage.py" and path.parent.name == "transforms":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            by_hand = (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "TaggedOutput"
                       and node.args and isinstance(node.args[0], (ast.Name, ast.Constant))
                       and getattr(node.args[0], "id", getattr(node.args[0], "value", None)) in ("REJECTS", "rejects"))
            named_anew = isinstance(node, ast.Name) and node.id == "REJECTS" and isinstance(node.ctx, ast.Store)
            if by_hand or named_anew:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []
