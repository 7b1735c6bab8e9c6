"""Duplicate source items (same id and time range): the first in input order is kept."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import SourceItem
from tunescribe.transforms.ingest.dedup import DropDuplicateSources


def test_keeps_first_by_input_order_and_rejects_the_rest():
    items = [
        SourceItem("song", "/b/song.ogg", "second.csv", (1, 4)),
        SourceItem("song", "/a/song.ogg", "first.csv", (0, 9)),
        SourceItem("song", "/a/song.ogg", "first.csv", (0, 2), start_s=10.0),  # other range: not a duplicate
        SourceItem("other", "/a/other.ogg", "first.csv", (0, 1)),
    ]
    with beam.Pipeline() as p:
        kept, rejects = p | beam.Create(items) | DropDuplicateSources()
        assert_that(kept | beam.Map(lambda i: (i.source_id, i.order)),
                    equal_to([("song", (0, 9)), ("song", (0, 2)), ("other", (0, 1))]), label="kept")
        assert_that(rejects | beam.Map(lambda r: (r.source_id, r.reason, r.input_uri, r.clip_index)),
                    equal_to([("song", "duplicate_source", "second.csv", None)]), label="rejects")
