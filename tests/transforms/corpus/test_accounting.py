"""The ledger: ingested = accepted + rejected, with clip-level and whole-item rejects."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import Clip, DroppedCaption, Provenance, Reject
from tunescribe.schemas.layout import source_key_of
from tunescribe.transforms.corpus.accounting import SummariseRun


def _clip(source_key, i):
    return Clip(key=f"{source_key}_{i:05d}", source_id=source_key, clip_index=i, start_s=0, end_s=1,
                sample_rate=8000, channels=1, provenance=Provenance("m", "a", "v", "h"))


def test_source_key_of():
    assert source_key_of("abc_00012") == "abc"


def _dropped(key, i, stage, reason, backend, model, task):
    return DroppedCaption(key=key, source_id=key.rsplit("_", 1)[0], clip_index=0, caption_index=i, stage=stage,
                          reason=reason, detail="", task=task, backend=backend, prompt_id="p", prompt_version="1",
                          text="t", input_uri="m", model_id=model)


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
        dropped = p | "Dropped" >> beam.Create([
            _dropped("s1_00000", 1, "quality", "leaked_title", "transformers", "smollm2", "writing"),
            _dropped("s1_00001", 1, "quality", "leaked_title", "transformers", "smollm2", "summary"),
            _dropped("s3_00000", 0, "quality", "task_talk", "transformers", "smollm2", "writing"),
            _dropped("s2_00000", 2, "dedup", "near_duplicate_caption", "template", None, "template"),
        ])
        stats = p | SummariseRun({"listed": listed, "accepted": acc}, acc, rej, shard_rows, ingested, dropped)
        assert_that(stats, equal_to([{
            "captions_dropped": {
                "total": 4,
                "by_reason": {"dedup/near_duplicate_caption": 1, "quality/leaked_title": 2, "quality/task_talk": 1},
                "by_model": {"template": 1, "transformers:smollm2": 3},
                "by_task": {"summary": 1, "template": 1, "writing": 2},
                "by_model_task": {"template/template": 1, "transformers:smollm2/summary": 1,
                                  "transformers:smollm2/writing": 2}},
            "stages": {"listed": 5, "accepted": 3},
            "sources": {"ingested": 6, "accepted": 2, "rejected": 4},
            "rejects": {"total": 5, "by_stage": {"decode": 1, "ingest": 2, "quality": 2},
                        "by_reason": {"decode/not_audio": 1, "ingest/bad_manifest_row": 1,
                                      "ingest/duplicate_source": 1, "quality/too_short": 1,
                                      "quality/too_silent": 1}},
            "shards": {"count": 1, "samples": 3, "files": [{"name": "t-000000.tar", "samples": 3}]},
        }]))
