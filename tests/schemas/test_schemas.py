"""Record types round-trip through their Arrow schemas, with docs and versions on every field."""

import numpy as np
import pyarrow as pa

from tunescribe.schemas import (
    CLIP_SCHEMA,
    CLIP_SCHEMA_VERSION,
    CLIP_TABLE_SCHEMA,
    DROPPED_CAPTION_SCHEMA,
    REJECT_SCHEMA,
    REJECT_SCHEMA_VERSION,
    Attribute,
    Caption,
    Clip,
    Provenance,
    Reject,
    Tag,
    source_key,
)


def _clip():
    return Clip(key="abc_00001", source_id="src", clip_index=1, start_s=10.0, end_s=20.0, sample_rate=48000,
                channels=1, provenance=Provenance("m.csv", "/a.ogg", "0.1", "hash"), track_id="t", artist_id="ar",
                album_id="al", licence="CC0", tags=(Tag("piano", "instrument"), Tag("x", "other", "model", 0.7)),
                attributes=(Attribute("tempo", number=92.0, confidence=0.8, extractor="e"),),
                captions=(Caption("text", "writing", "openai", "p", "2", "m", "r", 7),),
                stats={"duration_s": 10.0, "peak_dbfs": -1.0}, split="test", audio_format="flac",
                audio_sha256="ab" * 32, audio_size=1234,
                samples=np.zeros((1, 3)))


def test_clip_round_trips_through_arrow():
    clip = _clip()
    table = pa.Table.from_pylist([clip.to_row()], schema=CLIP_SCHEMA)
    back = Clip.from_row(table.to_pylist()[0])
    assert back.to_row() == clip.to_row()
    assert back.duration_s == 10.0


def test_every_field_is_documented_and_versioned():
    for schema in (CLIP_SCHEMA, CLIP_TABLE_SCHEMA, REJECT_SCHEMA, DROPPED_CAPTION_SCHEMA):
        assert b"tunescribe.schema_version" in schema.metadata
        assert all(f.metadata and f.metadata[b"doc"] for f in schema)
    assert CLIP_TABLE_SCHEMA.metadata == {b"tunescribe.record": b"clip",
                                          b"tunescribe.schema_version": CLIP_SCHEMA_VERSION.encode()}
    assert REJECT_SCHEMA.metadata[b"tunescribe.schema_version"] == REJECT_SCHEMA_VERSION.encode()
    assert REJECT_SCHEMA.field("key").nullable and not REJECT_SCHEMA.field("stage").nullable
    assert "audio" not in CLIP_TABLE_SCHEMA.names and {"shard", "shard_offset"} <= set(CLIP_TABLE_SCHEMA.names)


def test_reject_row_fits_schema():
    row = Reject("s", "decode", "missing_file", "no file", "m.csv").to_row()
    assert pa.Table.from_pylist([row], schema=REJECT_SCHEMA).num_rows == 1


def test_reject_round_trips_through_its_table_row():
    reject = Reject("s", "segment", "too_short", "0.5 s", "m.csv", key="s_00001", clip_index=1)
    row = pa.Table.from_pylist([reject.to_row()], schema=REJECT_SCHEMA).to_pylist()[0]
    assert Reject.from_row(row) == reject


def test_source_key_is_stable_and_range_sensitive():
    assert source_key("a", None, None) == source_key("a", None, None)
    assert source_key("a", 0.0, 10.0) != source_key("a", None, None) != source_key("b", None, None)
    assert len(source_key("a/b.c", 1, 2)) == 16 and source_key("a/b.c", 1, 2).isalnum()
