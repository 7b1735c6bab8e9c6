"""The resume ledger's records and decisions, unit by unit (the end-to-end kills: tests/faults/test_resume.py)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tunescribe.schemas import Caption, Clip, Provenance, Reject, Tag
from tunescribe.transforms.audio.encode import encode_pcm
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.sinks.compact import compact_name, compact_records, key_digits
from tunescribe.transforms.sinks.ledger import (
    ACCEPTED,
    CLIPS,
    COUNTS,
    LEDGER_SCHEMA,
    REJECTS,
    accepted_record,
    read_ledger,
    reject_record,
    restorable,
    restore_clip,
)
from tunescribe.transforms.sinks.parquet import parquet_bytes
from tunescribe.transforms.sinks.webdataset import to_sample

ITEM = "0123456789abcdef"


def clip(index: int = 0, seed: int = 0, store: AudioStore | None = None) -> Clip:
    pcm = np.random.default_rng(seed).uniform(-0.5, 0.5, (1, 1600)).astype(np.float32)
    data = encode_pcm(pcm, 16000)
    sha256 = store.put(data, "flac") if store else hashlib.sha256(data).hexdigest()
    return Clip(key=f"{ITEM}_{index:05d}", source_id="track_1", clip_index=index, start_s=index * 0.1,
                end_s=index * 0.1 + 0.1, sample_rate=16000, channels=1, artist_id="artist_1",
                provenance=Provenance("m.tsv", "a.flac", "0.1.0", "abc"), licence="CC-BY-4.0",
                tags=(Tag("rock", "genre"),), captions=(Caption("A rock piece.", "template", "template", "t", "1"),),
                stats={"duration_s": 0.1, "rms_dbfs": -20.25}, split="train", audio_sha256=sha256,
                audio_size=len(data), audio_format="flac")


def reject(key: str, reason: str, clip_index=None, transient=False, stage=None, part=None) -> Reject:
    return Reject(source_id="track_1", stage=stage or ("quality" if clip_index is not None else "decode"),
                  reason=reason, detail="d", input_uri="m.tsv", key=key, clip_index=clip_index, part=part,
                  transient=transient)


def rec(run: str, kind: str, key: str, **fields) -> dict:
    return {"run": run, "item": ITEM, "kind": kind, "key": key, **fields}


def listing(run: str, n: int) -> dict:
    return rec(run, CLIPS, ITEM, clips=[f"{ITEM}_{i:05d}" for i in range(n)])


def rejected(run: str, key: str, reason: str, clip_index=None, **how) -> dict:
    return rec(run, REJECTS, key, reject=reject(key, reason, clip_index, **how).to_row())


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


def test_transient_rejects_are_not_settled():
    assert restorable(ITEM, [rejected("r1", ITEM, "missing_file", transient=True)]) is None
    assert restorable(ITEM, [rejected("r1", ITEM, "network_error", transient=True)]) is None
    assert restorable(ITEM, [listing("r1", 1),
                             rejected("r1", f"{ITEM}_00000", "unexpected_error", 0, transient=True)]) is None
    # The reject says whether it is transient, not its reason code.
    assert restorable(ITEM, [rejected("r1", ITEM, "network_error")]) is not None
    settled = restorable(ITEM, [rejected("r1", ITEM, "not_audio"), rejected("r1", ITEM, "not_audio")])
    assert settled.listed is None and [r["reason"] for r in settled.rejects] == ["not_audio"]  # once, not twice


def test_the_newest_complete_run_wins_and_partial_runs_are_ignored():
    a = clip(0)
    old = [rejected("20260101T000000-aa", ITEM, "network_error", transient=True)]
    done = [listing("20260102T000000-bb", 1), accepted_record("20260102T000000-bb", a)[0]]
    partial = [listing("20260103T000000-cc", 1)]  # killed before its clip was committed
    outcome = restorable(ITEM, old + done + partial)
    assert outcome is not None and [r["key"] for r in outcome.accepted] == [a.key]
    compacted = [dict(r, run="") for r in done]
    assert restorable(ITEM, compacted + partial) is not None


def test_a_clip_comes_back_from_the_ledger_as_committed_while_its_audio_is_stored(tmp_path):
    store = AudioStore(str(tmp_path / "audio"))
    a = clip(0, seed=7, store=store)
    rows = [accepted_record("r1", a)[0], reject_record("r1", reject(a.key, "too_silent", 0))[0]]
    path = tmp_path / "r1-x.parquet"
    path.write_bytes(parquet_bytes(rows, LEDGER_SCHEMA))
    records = [r for _, r in read_ledger(str(path))]
    back = restore_clip(records[0], store)
    assert to_sample(back) == to_sample(a) and back.to_row() == a.to_row()
    assert "audio" not in LEDGER_SCHEMA.names  # the ledger holds no audio: the store does
    (tmp_path / "audio" / a.audio_sha256[:2] / f"{a.audio_sha256}.flac").unlink()
    assert restore_clip(records[0], store) is None  # its audio is gone: the item is done again


def test_compacted_records_are_one_set_per_item_whatever_the_order(tmp_path):
    a, b = clip(0, seed=1), clip(1, seed=2)
    records = [listing("r1", 2), accepted_record("r1", a)[0], accepted_record("r1", b)[0],
               rec("r1", COUNTS, a.key, stage="clips")]
    grouped = {"items": [None], "records": records}
    compact = compact_records(ITEM, grouped)
    assert compact == compact_records(ITEM, dict(grouped, records=list(reversed(records))))
    assert [r["kind"] for r in compact] == [CLIPS, ACCEPTED, ACCEPTED, COUNTS]
    assert {r["run"] for r in compact} == {""}
    # Compacting again (from compacted records) gives the same records.
    assert compact_records(ITEM, dict(grouped, records=compact)) == compact
    assert compact_records(ITEM, dict(grouped, items=[])) == []  # no longer an input
    assert compact_records(ITEM, dict(grouped, records=records[1:])) == []  # not settled
    table = pa.Table.from_pylist(compact, schema=LEDGER_SCHEMA)
    assert pq.read_table(io.BytesIO(parquet_bytes(compact, LEDGER_SCHEMA))).equals(table)


def test_compacted_files_grow_in_number_with_the_corpus():
    assert key_digits(100) == 0 and compact_name(ITEM, 0) == "compact-all.parquet"
    assert key_digits(200_000) == 1 and compact_name(ITEM, 1) == "compact-0.parquet"
    assert key_digits(5_000_000) == 2 and compact_name(ITEM, 2) == "compact-01.parquet"


def caption_failed(run: str, key: str, reason: str, transient: bool, part: str = "api/lpmc-writing@1") -> dict:
    return rejected(run, key, reason, 0, stage="captions", part=part, transient=transient)


def test_an_accepted_clip_whose_caption_failed_for_now_is_restored_to_redo_that_caption():
    a = clip(0)
    records = [listing("r1", 1), accepted_record("r1", a)[0], rec("r1", COUNTS, a.key, stage="captioned"),
               caption_failed("r1", a.key, "endpoint_unreachable", True),
               caption_failed("r1", a.key, "endpoint_client_error", False, part="api/lpmc-summary@1")]
    outcome = restorable(ITEM, records)
    assert [r["key"] for r in outcome.accepted] == [a.key]
    assert outcome.redo() == {a.key: frozenset({"api/lpmc-writing@1"})}
    # The caption that failed for good stays a reject, as in an uninterrupted run; the transient
    # one is not restored as a reject (it is being redone).
    assert [r["reason"] for r in outcome.rejects] == ["endpoint_client_error"]
    # Compaction keeps what is to be redone, so a rerun after it still redoes it.
    compact = compact_records(ITEM, {"items": [None], "records": records})
    assert restorable(ITEM, compact).redo() == outcome.redo()
    # A transient failure of a whole accepted clip (no part to redo alone): the item is done again.
    assert restorable(ITEM, [*records[:2], rejected("r1", a.key, "unexpected_error", 0, transient=True)]) is None


def test_a_rerun_that_redid_the_caption_settles_the_item():
    a = clip(0)
    first = [listing("r1", 1), accepted_record("r1", a)[0], caption_failed("r1", a.key, "endpoint_timeout", True)]
    redone = [listing("r2", 1), accepted_record("r2", a)[0]]
    assert restorable(ITEM, first + redone).redo() == {}
    assert restorable(ITEM, first + redone[:1]).redo() == {a.key: frozenset({"api/lpmc-writing@1"})}  # r2 killed
