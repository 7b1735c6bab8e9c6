"""RunStage: refused and failing elements become reject records naming the stage; others pass."""

import errno
import sys
import traceback

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import SourceItem
from tunescribe.transforms.attributes import tagging
from tunescribe.transforms.captions import model_captions
from tunescribe.transforms.stage import Rejected, RunStage


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


def test_rejected_repr_keeps_reason_and_detail():
    assert repr(Rejected("too_short", "1.0 s: short")) == "too_short: 1.0 s: short"


def test_a_full_disk_in_a_failed_model_batch_stops_the_run():
    """RunInference's dead letters are (batch, (type, repr, traceback lines)); a full disk there is
    no fault of the batch's clips: the model stages raise it again instead of rejecting them."""
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        dead = (type(exc), repr(exc), traceback.format_exception(*sys.exc_info()))
    with pytest.raises(OSError, match="No space left"):
        list(model_captions._failed_batch(([], dead), None))
    with pytest.raises(OSError, match="No space left"):
        list(tagging._failed_batch(([], dead), "tagging"))
    other = (ValueError, repr(ValueError("bad batch")), [])
    assert list(tagging._failed_batch(([], other), "tagging")) == []  # an ordinary failure: rejects, no stop
