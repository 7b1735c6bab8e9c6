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
from tunescribe.transforms.stage import Rejected, RunStage, to_reject


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
    item = _item("x")
    assert to_reject("fetch", item, Rejected, repr(Rejected("timeout", "slow", True))).transient
    assert to_reject("picky", item, ZeroDivisionError, "ZeroDivisionError('boom')").transient  # maybe fixed by then
    assert not to_reject("picky", item, Rejected, repr(Rejected("not_wanted", "no"))).transient


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
