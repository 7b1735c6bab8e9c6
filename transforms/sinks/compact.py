"""Compacts the resume ledger once a build has finished.

During a run the ledger gets many small files, named by run, with records of every attempt. Once
the corpus is complete, it is rewritten as one record set per settled item, in files named by
leading hex digits of the item key, rows sorted. The compacted ledger is a function of the corpus
alone — the same bytes whether the build ran through or was killed and resumed — and a later
rerun restores from it (the clips' audio is in the audio store) exactly as from the full records.
"""

from __future__ import annotations

import math

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tunescribe.transforms.sinks.files import list_files, write_bytes_atomically
from tunescribe.transforms.sinks.ledger import (
    COMPACT_RUN,
    LEDGER_SCHEMA,
    Ledger,
    outcome_records,
    read_ledger,
    restorable,
)
from tunescribe.transforms.sinks.parquet import parquet_bytes

COMPACT_PREFIX = "compact-"
ITEMS_PER_FILE = 20_000  # about; files are split by leading hex digits of the item key


def key_digits(n_items: int, per_file: int = ITEMS_PER_FILE) -> int:
    """How many leading hex digits of the key name a file of about `per_file` records: a
    function of the corpus alone (so reruns agree), growing with it (so no file gets huge)."""
    return 0 if n_items <= per_file else math.ceil(math.log(n_items / per_file, 16))


def compact_name(item_key: str, digits: int) -> str:
    return f"{COMPACT_PREFIX}{item_key[:digits] if digits else 'all'}.parquet"


def compact_records(item_key: str, grouped: dict) -> list[dict]:
    """The compacted records of one item, or none if it is not settled or not in the corpus."""
    if not list(grouped["items"]):
        return []
    outcome = restorable(item_key, list(grouped["records"]))
    return [] if outcome is None else outcome_records(COMPACT_RUN, item_key, outcome)


def _order(record: dict) -> tuple:
    reject = record.get("reject") or {}
    return (record["item"], record["kind"], record["key"], record.get("stage") or "",
            reject.get("reason") or "", reject.get("detail") or "")


class CompactLedger(beam.PTransform):
    """Rewrites the ledger compactly; applied to one element (the manifest's path) once everything
    else is written, the ledger commits included (`WaitOn`). `items`: the run's unique source items."""

    def __init__(self, ledger: Ledger, items):
        super().__init__()
        self.ledger, self.items = ledger, items

    def expand(self, done):
        directory = self.ledger.directory
        files = done | "ListLedger" >> beam.FlatMap(lambda _: [p for p, _ in list_files(f"{directory}/*.parquet")])
        records = files | "Spread" >> beam.Reshuffle() | "Read" >> beam.FlatMap(read_ledger)
        digits = self.items | "CountItems" >> beam.combiners.Count.Globally() | "Digits" >> beam.Map(key_digits)
        written = (
            {"items": self.items | "ItemKeys" >> beam.Map(lambda item: (item.key, None)),
             "records": records}
            | "Join" >> beam.CoGroupByKey()
            | "Compact" >> beam.FlatMapTuple(lambda key, grouped: compact_records(key, grouped))
            | "ByFile" >> beam.Map(lambda r, digits: (compact_name(r["item"], digits), r),
                                   digits=beam.pvalue.AsSingleton(digits))
            | "GroupFile" >> beam.GroupByKey()
            | "Write" >> beam.MapTuple(
                lambda name, rows: write_bytes_atomically(
                    f"{directory}/{name}", parquet_bytes(sorted(rows, key=_order), LEDGER_SCHEMA)) or name)
        )

        def remove_replaced(_, listed, kept):
            kept = {f"{directory}/{name}" for name in kept}
            old = [path for path in listed if path not in kept]
            if old:
                FileSystems.delete(old)
            return len(old)

        return (
            done.pipeline
            | "Then" >> beam.Create([None])
            | "RemoveReplaced" >> beam.Map(remove_replaced, listed=beam.pvalue.AsList(files),
                                           kept=beam.pvalue.AsList(written))
        )
