"""Keeps one item per source key (same id and time range); the others become rejects."""

from __future__ import annotations

import apache_beam as beam

from tunescribe.transforms.stage import REJECTS, Rejected, reject_of, rejected_output


class _KeepFirst(beam.DoFn):
    def process(self, keyed):
        _, items = keyed
        # Input order decides, so the same manifest always keeps the same row.
        first, *rest = sorted(items, key=lambda item: item.order)
        yield first
        for dup in rest:
            yield rejected_output(reject_of("ingest", dup, Rejected(
                "duplicate_source", f"same id and time range as the item at {first.input_uri} row/path {first.order[1]}")))


class DropDuplicateSources(beam.PTransform):
    """SourceItems -> (unique items, rejects for the duplicates)."""

    def expand(self, items):
        results = (
            items
            | "ByKey" >> beam.Map(lambda item: (item.key, item))
            | "Group" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirst()).with_outputs(REJECTS, main="items")
        )
        return results.items, results[REJECTS]
