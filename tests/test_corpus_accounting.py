"""The ledger: ingested = accepted + rejected, with clip-level and whole-item rejects."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import Clip, Provenance, Reject
from tunescribe.transforms.corpus.accounting import SummariseRun, source_key_of


def _clip(source_key, i):
    return Clip(key=f"{source_key}_{i:05d}", source_id=source_key, clip_index=i, start_s=0, end_s=1,
                sample_rate=8000, channels=1, provenance=Provenance("m", "a", "v", "h"))


def test_source_key_of():
    assert source_key_of("abc_00012") == "abc"


def test_summary_balances():
    accepted = [_clip("s1", 0), _clip("s1", 1), _clip("s2", 0)]
    rejects = [
        Reject("s1", "quality", "too_silent", "", "m", key="s1_00002", clip_index=2),  # s1 still accepted
        Reject("s3", "quality", "too_short", "", "m", key="s3_00000", clip_index=0),  # s3: all clips rejected
        Reject("s4", "decode", "not_audio", "", "m", key="s4"),  # whole item
        Reject("s2", "ingest", "duplicate_source", "", "m", key="s2"),  # a second s2 row
        Reject("m.csv#9", "ingest", "bad_manifest_row", "", "m"),
    ]
    with beam.Pipeline() as p:
        acc = p | "Acc" >> beam.Create(accepted)
        rej = p | "Rej" >> beam.Create(rejects)
        listed = p | "Listed" >> beam.Create(["s1", "s2", "s2dup", "s3", "s4"])
        ingested = (listed, rej | beam.Filter(lambda r: r.reason == "bad_manifest_row")) | beam.Flatten()
        shard_rows = p | "Shards" >> beam.Create([("t-000000.tar", [{}, {}, {}])])
        stats = p | SummariseRun({"listed": listed, "accepted": acc}, acc, rej, shard_rows, ingested)
        assert_that(stats, equal_to([{
            "stages": {"listed": 5, "accepted": 3},
            "sources": {"ingested": 6, "accepted": 2, "rejected": 4},
            "rejects": {"total": 5, "by_stage": {"decode": 1, "ingest": 2, "quality": 2},
                        "by_reason": {"decode/not_audio": 1, "ingest/bad_manifest_row": 1,
                                      "ingest/duplicate_source": 1, "quality/too_short": 1,
                                      "quality/too_silent": 1}},
            "shards": {"count": 1, "samples": 3, "files": [{"name": "t-000000.tar", "samples": 3}]},
        }]))
