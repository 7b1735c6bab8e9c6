"""RunStage: refused and failing elements become reject records naming the stage; others pass."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import SourceItem
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
