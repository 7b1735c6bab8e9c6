"""The resume ledger's records and decisions, unit by unit (the end-to-end kills: test_resume.py)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tunescribe.schemas import Caption, Clip, Provenance, Reject, Tag
from tunescribe.transforms.audio.encode import encode_pcm
from tunescribe.transforms.sinks.compact import compact_name, compact_records, key_digits
from tunescribe.transforms.sinks.ledger import (
    ACCEPTED, CLIPS, COUNTS, LEDGER_SCHEMA, REJECTS, accepted_record, read_ledger, reject_record, restorable,
    restore_clip,
)
from tunescribe.transforms.sinks.parquet import parquet_bytes
from tunescribe.transforms.sinks.webdataset import to_sample, write_tar

ITEM = "0123456789abcdef"


def clip(index: int = 0, seed: int = 0) -> Clip:
    pcm = np.random.default_rng(seed).uniform(-0.5, 0.5, (1, 1600)).astype(np.float32)
    return Clip(key=f"{ITEM}_{index:05d}", source_id="track_1", clip_index=index, start_s=index * 0.1,
                end_s=index * 0.1 + 0.1, sample_rate=16000, channels=1, artist_id="artist_1",
                provenance=Provenance("m.tsv", "a.flac", "0.1.0", "abc"), licence="CC-BY-4.0",
                tags=(Tag("rock", "genre"),), captions=(Caption("A rock piece.", "template", "template", "t", "1"),),
                stats={"duration_s": 0.1, "rms_dbfs": -20.25}, split="train", audio=encode_pcm(pcm, 16000),
                audio_format="flac")


def reject(key: str, reason: str, clip_index=None) -> Reject:
    return Reject(source_id="track_1", stage="quality" if clip_index is not None else "decode", reason=reason,
                  detail="d", input_uri="m.tsv", key=key, clip_index=clip_index)


def rec(run: str, kind: str, key: str, **fields) -> dict:
    return {"run": run, "item": ITEM, "kind": kind, "key": key, **fields}


def listing(run: str, n: int) -> dict:
    return rec(run, CLIPS, ITEM, clips=[f"{ITEM}_{i:05d}" for i in range(n)])


def rejected(run: str, key: str, reason: str, clip_index=None) -> dict:
    return rec(run, REJECTS, key, reject=reject(key, reason, clip_index).to_row())


def test_an_item_is_settled_when_every_listed_clip_has_a_final_outcome():
    a, b = clip(0), clip(1)
    records = [listing("r1", 2), accepted_record("r1", a)[0], rejected("r1", b.key, "too_silent", 1),
               rec("r1", COUNTS, a.key, stage="clips"), rec("r1", COUNTS, b.key, stage="clips")]
    outcome = restorable(ITEM, records)
    assert [r["key"] for r in outcome.accepted] == [a.key]
    assert [r["reason"] for r in outcome.rejects] == ["too_silent"]
    assert outcome.counts == {("clips", a.key), ("clips", b.key)}
    assert restorable(ITEM, records[:2]) is None  # clip 1 has no outcome yet: not settled
    assert restorable(ITEM, records[1:]) is None  # no list of clips: cannot know it is complete


def test_retried_reasons_are_not_settled():
    assert restorable(ITEM, [rejected("r1", ITEM, "missing_file")]) is None
    assert restorable(ITEM, [rejected("r1", ITEM, "network_error")]) is None
    assert restorable(ITEM, [listing("r1", 1), rejected("r1", f"{ITEM}_00000", "unexpected_error", 0)]) is None
    settled = restorable(ITEM, [rejected("r1", ITEM, "not_audio"), rejected("r1", ITEM, "not_audio")])
    assert settled.listed is None and [r["reason"] for r in settled.rejects] == ["not_audio"]  # once, not twice


def test_the_newest_complete_run_wins_and_partial_runs_are_ignored():
    a = clip(0)
    old = [rejected("20260101T000000-aa", ITEM, "network_error")]
    done = [listing("20260102T000000-bb", 1), accepted_record("20260102T000000-bb", a)[0]]
    partial = [listing("20260103T000000-cc", 1)]  # killed before its clip was committed
    outcome = restorable(ITEM, old + done + partial)
    assert outcome is not None and [r["key"] for r in outcome.accepted] == [a.key]
    compacted = [dict(r, run="") for r in done]
    assert restorable(ITEM, compacted + partial) is not None


def test_a_clip_comes_back_from_the_ledger_byte_for_byte(tmp_path):
    a = clip(0, seed=7)
    rows = [accepted_record("r1", a)[0], reject_record("r1", reject(a.key, "too_silent", 0))[0]]
    path = tmp_path / "r1-x.parquet"
    path.write_bytes(parquet_bytes(rows, LEDGER_SCHEMA))
    records = [r for _, r in read_ledger(str(path))]
    back = restore_clip(records[0], str(tmp_path))
    assert to_sample(back) == to_sample(a)
    assert read_ledger(str(path), with_audio=False)[0][1].get("audio") is None


def test_compacted_records_point_into_the_shard_and_are_checked(tmp_path):
    a, b = clip(0, seed=1), clip(1, seed=2)
    # The shard holds b as a later decision left it (one caption dropped): same audio, other JSON.
    b_in_corpus = dataclasses.replace(b, captions=())
    buf = io.BytesIO()
    offsets = write_tar(buf, [to_sample(a), to_sample(b_in_corpus)])
    (tmp_path / "s-train-000000.tar").write_bytes(buf.getvalue())
    records = [listing("r1", 2), accepted_record("r1", a)[0], accepted_record("r1", b)[0]]
    grouped = {"items": [None], "records": records,
               "pointers": [(a.key, "s-train-000000.tar", offsets[0]), (b.key, "s-train-000000.tar", offsets[1])]}
    compact = compact_records(ITEM, grouped, frozenset())
    assert compact == compact_records(ITEM, dict(grouped, records=list(reversed(records))), frozenset())
    pointed = [r for r in compact if r["kind"] == ACCEPTED]
    assert all(r.get("audio") is None and r["shard"] and r["audio_sha256"] for r in pointed)
    assert to_sample(restore_clip(pointed[1], str(tmp_path))) == to_sample(b)  # as committed, not as shipped
    assert restore_clip(dict(pointed[1], offset=offsets[0]), str(tmp_path)) is None  # another sample there
    # Compacting again (from compacted records) carries the hash on.
    again = compact_records(ITEM, dict(grouped, records=compact), frozenset())
    assert again == compact
    (tmp_path / "s-train-000000.tar").write_bytes(b"\0" * 1024)
    assert restore_clip(pointed[0], str(tmp_path)) is None  # the shard was rewritten since
    # A committed clip that a later decision left out of the shards keeps its audio in the ledger...
    kept = compact_records(ITEM, dict(grouped, pointers=grouped["pointers"][:1]), frozenset())
    assert [r.get("audio") is not None for r in kept if r["kind"] == ACCEPTED] == [False, True]
    # ...but one whose audio was only in a shard that lost it cannot be kept: the item is redone.
    assert compact_records(ITEM, dict(grouped, records=compact, pointers=grouped["pointers"][:1]), frozenset()) == []
    table = pa.Table.from_pylist(compact, schema=LEDGER_SCHEMA)
    assert pq.read_table(io.BytesIO(parquet_bytes(compact, LEDGER_SCHEMA))).equals(table)


def test_compacted_files_grow_in_number_with_the_corpus():
    assert key_digits(100) == 0 and compact_name(ITEM, 0) == "compact-all.parquet"
    assert key_digits(200_000) == 1 and compact_name(ITEM, 1) == "compact-0.parquet"
    assert key_digits(5_000_000) == 2 and compact_name(ITEM, 2) == "compact-01.parquet"
