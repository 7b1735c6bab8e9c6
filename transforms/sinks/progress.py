"""Writes the run's totals for the progress line: how many source items this run will process and
how many a resume restored from the ledger. Only counts flow into the file, never the items.

The CLI's progress reporter (pipelines/progress.py) reads the file while the build runs; until it
exists, the line says the inputs are still being listed."""

from __future__ import annotations

import json

import apache_beam as beam

from tunescribe.transforms.sinks.files import write_bytes_atomically


def totals_json(items: int, restored: int) -> bytes:
    return json.dumps({"items": items, "restored": restored}, sort_keys=True).encode("utf-8")


class WriteRunTotals(beam.PTransform):
    """(items to process, all unique items) -> the items to process, unchanged, once `path` holds
    {"items": N, "restored": M} (M: unique items the ledger settled in an earlier run).

    The items wait for the file on purpose: a runner that runs one fused stage after another
    (the DirectRunner) would otherwise count them only after the per-item work they are fused
    with, and the progress line would say "listing…" for the whole run. The wait costs little:
    the items come out of the ledger join, which waits for every item anyway."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def expand(self, todo_and_unique):
        todo, unique = todo_and_unique
        path = self.path

        def write(_, todo_n: int, unique_n: int) -> str:
            write_bytes_atomically(path, totals_json(todo_n, unique_n - todo_n))
            return path

        written = (
            todo.pipeline
            | "Once" >> beam.Create([None])
            | "Write" >> beam.Map(
                write,
                todo_n=beam.pvalue.AsSingleton(todo | "CountTodo" >> beam.combiners.Count.Globally()),
                unique_n=beam.pvalue.AsSingleton(unique | "CountUnique" >> beam.combiners.Count.Globally()))
        )
        return todo | "AfterTotals" >> beam.Map(lambda item, _: item, beam.pvalue.AsSingleton(written))
