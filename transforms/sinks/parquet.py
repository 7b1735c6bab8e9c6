"""Writes the clip table (one Parquet file per shard), the rejects table and the dropped-captions table.

Rows are sorted before writing, so a rerun writes the same bytes (Beam's WriteToParquet writes
rows in arrival order, which no runner fixes). One clip file per shard keeps the table writable
in parallel and readable as one dataset: `pyarrow.parquet.read_table("<corpus>/clips")`.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from tunescribe.schemas import CLIP_TABLE_SCHEMA, DROPPED_CAPTION_SCHEMA, REJECT_SCHEMA
from tunescribe.transforms.sinks.files import write_bytes_atomically

ROW_GROUP_ROWS = 512  # rows converted to Arrow at a time: a 5,000-row part's transient memory ~35 -> ~15 MiB


def parquet_bytes(rows: list[dict], schema: pa.Schema) -> bytes:
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for start in range(0, max(len(rows), 1), ROW_GROUP_ROWS):
            writer.write_table(pa.Table.from_pylist(rows[start:start + ROW_GROUP_ROWS], schema=schema))
    return sink.getvalue().to_pybytes()


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


class _WriteRecordTable(beam.PTransform):
    """Records (with sort_key() and to_row()) -> one sorted Parquet file; outputs its path."""

    schema: pa.Schema

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def expand(self, records):
        path, schema = self.path, self.schema

        def write(everything):
            rows = [r.to_row() for r in sorted(everything, key=lambda r: r.sort_key())]
            write_bytes_atomically(path, parquet_bytes(rows, schema))
            return path

        return records | "All" >> beam.combiners.ToList() | "Write" >> beam.Map(write)


class WriteRejectTable(_WriteRecordTable):
    """Rejects -> one sorted Parquet file; outputs its path. Rejects are few and small."""

    schema = REJECT_SCHEMA


class WriteDroppedCaptionTable(_WriteRecordTable):
    """Dropped captions -> one sorted Parquet file; outputs its path. At most a few per clip, and
    only short texts: one file, as the rejects."""

    schema = DROPPED_CAPTION_SCHEMA
