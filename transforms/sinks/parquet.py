"""Writes the clip table (one Parquet file per shard) and the rejects table.

Rows are sorted before writing, so a rerun writes the same bytes (Beam's WriteToParquet writes
rows in arrival order, which no runner fixes). One clip file per shard keeps the table writable
in parallel and readable as one dataset: `pyarrow.parquet.read_table("<corpus>/clips")`.
"""

from __future__ import annotations

import io

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from tunescribe.schemas import CLIP_TABLE_SCHEMA, REJECT_SCHEMA
from tunescribe.transforms.sinks.files import write_bytes_atomically


def parquet_bytes(rows: list[dict], schema: pa.Schema) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf, compression="zstd")
    return buf.getvalue()


class _WriteClipFile(beam.DoFn):
    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    def process(self, shard_rows):
        shard, rows = shard_rows
        path = f"{self.output_dir}/{shard.removesuffix('.tar')}.parquet"
        write_bytes_atomically(path, parquet_bytes(sorted(rows, key=lambda r: r["key"]), CLIP_TABLE_SCHEMA))
        yield path


class WriteClipTable(beam.PTransform):
    """(shard name, rows) from WriteWebDataset -> `<output_dir>/<shard>.parquet`; outputs paths."""

    def __init__(self, output_dir: str):
        super().__init__()
        self.output_dir = output_dir.rstrip("/")

    def expand(self, shard_rows):
        return shard_rows | beam.ParDo(_WriteClipFile(self.output_dir))


class WriteRejectTable(beam.PTransform):
    """Rejects -> one sorted Parquet file; outputs its path. Rejects are few and small."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def expand(self, rejects):
        path = self.path

        def write(all_rejects):
            rows = [r.to_row() for r in sorted(all_rejects, key=lambda r: r.sort_key())]
            write_bytes_atomically(path, parquet_bytes(rows, REJECT_SCHEMA))
            return path

        return rejects | "All" >> beam.combiners.ToList() | "Write" >> beam.Map(write)
