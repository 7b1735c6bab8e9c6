"""Counts what happened in a run: items in, per stage, per reject reason, and per source outcome.

The ledger every run must balance: ingested items = accepted items + rejected items, where an
item is accepted when at least one of its clips is in the corpus, and rejected otherwise (either
as a whole, or because every one of its clips was rejected).
"""

from __future__ import annotations

import apache_beam as beam

from tunescribe.schemas.layout import source_key_of


class SummariseRun(beam.PTransform):
    """-> one dict: {"stages": {name: count}, "sources": {...}, "clips": {...}, "rejects": {...},
    "captions_dropped": {...}, "shards": [...]}. Inputs: `stage_counts` (name -> PCollection,
    counted in the given order), `accepted` clips, `rejects`, `shard_rows` (shard name, rows) from
    the WebDataset writer, `dropped_captions` (DroppedCaption records of the decisions).
    A count known already (an int instead of a PCollection: `tunescribe filter`, re-deciding a
    built corpus, takes the counts from before the decisions from its stats.json) is taken as is."""

    def __init__(self, stage_counts: dict, accepted, rejects, shard_rows, ingested, dropped_captions=None):
        super().__init__()
        self.stage_counts, self.accepted, self.rejects = stage_counts, accepted, rejects
        self.shard_rows, self.ingested, self.dropped_captions = shard_rows, ingested, dropped_captions

    def expand(self, pbegin):
        # One combine for every counted PCollection (a count each was ~3 runner steps apiece); each
        # fact starts at 0, so an empty PCollection counts 0, and a known count is taken as is.
        counted = {**{f"stages/{name}": pc for name, pc in self.stage_counts.items()}, "sources/ingested": self.ingested}
        ones = [pc | f"Count{fact}" >> beam.Map(lambda _, fact=fact: (fact, 1))
                for fact, pc in counted.items() if not isinstance(pc, int)]
        starts = [(fact, pc if isinstance(pc, int) else 0) for fact, pc in counted.items()]
        facts = [(*ones, pbegin | "Starts" >> beam.Create(starts)) | "AllCounted" >> beam.Flatten()
                 | "SumCounts" >> beam.CombinePerKey(sum)]

        by_source = (
            (
                self.accepted | "AcceptedBySource" >> beam.Map(lambda c: (source_key_of(c.key), True)),
                self.rejects
                | "ClipRejects" >> beam.Filter(lambda r: not r.is_whole_item)
                | "RejectedBySource" >> beam.Map(lambda r: (source_key_of(r.key), False)),
            )
            | "FlattenOutcomes" >> beam.Flatten()
            | "GroupOutcomes" >> beam.GroupByKey()
            | "Outcome" >> beam.MapTuple(lambda _, oks: "sources/accepted" if any(oks) else "sources/rejected")
        )
        whole = (
            self.rejects
            | "WholeRejects" >> beam.Filter(lambda r: r.is_whole_item)
            | "WholeOutcome" >> beam.Map(lambda _: "sources/rejected")
        )
        facts.append(
            (by_source, whole, pbegin | "Zero" >> beam.Create(["sources/accepted", "sources/rejected"]))
            | "FlattenSources" >> beam.Flatten()
            | "CountOutcomes" >> beam.combiners.Count.PerElement()
            | "MinusZero" >> beam.MapTuple(lambda k, n: (k, n - 1))
        )
        facts.append(
            self.rejects
            | "ByReason" >> beam.Map(lambda r: (f"rejects/{r.stage}/{r.reason}", 1))
            | "SumReasons" >> beam.CombinePerKey(sum)
        )
        if self.dropped_captions is not None:
            facts.append(
                self.dropped_captions
                | "DroppedCaptionFacts" >> beam.FlatMap(dropped_caption_facts)
                | "SumDroppedCaptions" >> beam.CombinePerKey(sum)
            )
        facts.append(
            self.shard_rows | "ShardSizes" >> beam.MapTuple(lambda name, rows: (f"shards/{name}", len(rows)))
        )
        return (
            facts
            | "AllFacts" >> beam.Flatten()
            | "Collect" >> beam.combiners.ToList()
            | "Assemble" >> beam.Map(assemble, list(self.stage_counts))
        )


# stats.json's "captions_dropped" groups: fact prefix -> key of the group.
DROPPED_GROUPS = {"by_reason": "stage/reason", "by_model": "backend:model_id", "by_task": "task",
                  "by_model_task": "backend:model_id/task"}


def dropped_caption_facts(d) -> list[tuple[str, int]]:
    """One dropped caption -> its counts in each group of DROPPED_GROUPS."""
    return [(f"captions_dropped/by_reason/{d.stage}/{d.reason}", 1), (f"captions_dropped/by_model/{d.model}", 1),
            (f"captions_dropped/by_task/{d.task}", 1), (f"captions_dropped/by_model_task/{d.model}/{d.task}", 1)]


def assemble(facts: list[tuple[str, int]], stage_order: list[str]) -> dict:
    flat = dict(facts)
    stages = {name: flat[f"stages/{name}"] for name in stage_order}
    by_reason = {k.split("/", 1)[1]: v for k, v in sorted(flat.items()) if k.startswith("rejects/")}
    by_stage: dict[str, int] = {}
    for stage_reason, n in by_reason.items():
        stage = stage_reason.split("/")[0]
        by_stage[stage] = by_stage.get(stage, 0) + n
    shards = [{"name": k.split("/", 1)[1], "samples": v} for k, v in sorted(flat.items()) if k.startswith("shards/")]
    dropped = {group: {k.split("/", 2)[2]: v for k, v in sorted(flat.items())
                       if k.startswith(f"captions_dropped/{group}/")} for group in DROPPED_GROUPS}
    return {
        "captions_dropped": {"total": sum(dropped["by_reason"].values()), **dropped},
        "stages": stages,
        "sources": {
            "ingested": flat["sources/ingested"],
            "accepted": flat["sources/accepted"],
            "rejected": flat["sources/rejected"],
        },
        "rejects": {"total": sum(by_reason.values()), "by_stage": by_stage, "by_reason": by_reason},
        "shards": {"count": len(shards), "samples": sum(s["samples"] for s in shards), "files": shards},
    }
