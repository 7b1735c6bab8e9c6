"""Clip and reject tables: the declared schemas, sorted rows, the same bytes on a rerun."""

import apache_beam as beam
import pyarrow.parquet as pq

from tunescribe.schemas import CLIP_TABLE_SCHEMA, REJECT_SCHEMA, Clip, Provenance, Reject
from tunescribe.transforms.sinks.parquet import WriteClipTable, WriteRejectTable
from tunescribe.transforms.sinks.webdataset import metadata_of


def _row(i):
    clip = Clip(key=f"k{i}_00000", source_id=f"s{i}", clip_index=0, start_s=0, end_s=1, sample_rate=8000,
                channels=1, provenance=Provenance("m", "a", "v", "h"), split="train", audio_format="flac")
    return {**metadata_of(clip), "shard": "t-000000.tar", "shard_index": i, "shard_offset": 512 * i}


def test_tables(tmp_path):
    rejects = [Reject("b", "decode", "missing_file", "no file", "m.csv", key="kb"),
               Reject("a", "quality", "too_short", "1 s", "m.csv", key="ka_00001", clip_index=1)]
    for run in ("x", "y"):
        with beam.Pipeline() as p:
            p | "Rows" >> beam.Create([("t-000000.tar", [_row(2), _row(1)])]) | WriteClipTable(str(tmp_path / run))
            p | "Rejects" >> beam.Create(rejects if run == "x" else rejects[::-1]) | WriteRejectTable(
                str(tmp_path / run / "rejects.parquet"))
    clips = pq.read_table(tmp_path / "x" / "t-000000.parquet")
    assert clips.schema.equals(CLIP_TABLE_SCHEMA, check_metadata=False)
    assert clips.column("key").to_pylist() == ["k1_00000", "k2_00000"]
    rej = pq.read_table(tmp_path / "x" / "rejects.parquet")
    assert rej.schema.equals(REJECT_SCHEMA, check_metadata=False)
    assert rej.column("source_id").to_pylist() == ["a", "b"]
    for name in ("t-000000.parquet", "rejects.parquet"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes()
