"""The error-ratio guard: a run where a stage failed on most of what it was given stops before the
corpus is finished, with a report, instead of producing a mostly-empty corpus.

Per judged stage, its share of failures = distinct items (or clips) it rejected / items (or clips)
that entered it. The counts come from the run stats (restored from the resume ledger included), so
a rerun of a stopped run judges the same totals and stops again, rather than passing because its
own share of new work was small. Stages that *decide* (quality rules, decontamination, dedup,
split exclusions) and duplicate sources are not failures and are not judged: their thresholds are
the user's choice. The check runs after stats.json and rejects.parquet are written (so the report
can be inspected) and before the finishing files: a stopped run leaves no manifest.json.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam

from tunescribe.transforms.corpus.settings import ENTERING, JUDGED_STAGES, ErrorRatioGuard

NOT_FAILURES = {("ingest", "duplicate_source")}  # a decision, not a failure
TOP_REASONS = 3


class ErrorRatioExceeded(RuntimeError):
    """A stage failed on more than its allowed share of its inputs; the message is the report."""


@dataclasses.dataclass(frozen=True)
class Breach:
    stage: str
    failed: int
    entered: int
    limit: float
    reasons: tuple[tuple[str, int], ...]  # most frequent first

    def line(self) -> str:
        top = ", ".join(f"{reason} {n}" for reason, n in self.reasons[:TOP_REASONS])
        return (f"stage '{self.stage}' failed on {self.failed} of {self.entered} "
                f"({self.failed / self.entered:.0%} > {self.limit:.0%}); top reasons: {top}")


def entered(stats: dict, stage: str, failed: int) -> int:
    section, name, *plus = ENTERING[stage]
    return stats[section].get(name, 0) + (failed if plus else 0)


def find_breaches(stats: dict, failures: dict[str, int], reasons: dict[str, dict[str, int]],
                  guard: ErrorRatioGuard) -> list[Breach]:
    """`failures`: stage -> distinct elements it rejected; `reasons`: stage -> reason -> rejects."""
    out = []
    for stage in JUDGED_STAGES:
        failed = failures.get(stage, 0)
        n = entered(stats, stage, failed)
        if failed and n >= guard.min_items and failed > guard.limit(stage) * n:
            top = sorted(reasons.get(stage, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(Breach(stage, failed, n, guard.limit(stage), tuple(top)))
    return out


def report(breaches: list[Breach], output: str) -> str:
    lines = [f"the run stopped: the error-ratio guard tripped ({len(breaches)} stage(s)):"]
    lines += [f"  {b.line()}" for b in breaches]
    lines.append(f"The corpus in {output} was not finished (no manifest.json); its stats.json and "
                 "rejects.parquet tell what failed. Fix the inputs (or the endpoint), or raise "
                 "errors.max_error_ratio / errors.per_stage, and rerun: finished work is reused.")
    return "\n".join(lines)


def _judged(r) -> bool:
    return r.stage in ENTERING and (r.stage, r.reason) not in NOT_FAILURES


def _check(stats: dict, failures: list, reasons: list, guard: ErrorRatioGuard, output: str) -> str:
    by_stage: dict[str, dict[str, int]] = {}
    for (stage, reason), n in reasons:
        by_stage.setdefault(stage, {})[reason] = n
    breaches = find_breaches(stats, dict(failures), by_stage, guard)
    if breaches:
        raise ErrorRatioExceeded(report(breaches, output))
    return "ok"


class CheckErrorRatios(beam.PTransform):
    """The run stats (one dict) -> "ok", or the pipeline fails with ErrorRatioExceeded.
    `rejects`: every reject of the run."""

    def __init__(self, guard: ErrorRatioGuard, rejects, output: str):
        super().__init__()
        self.guard, self.rejects, self.output = guard, rejects, output

    def expand(self, stats):
        judged = self.rejects | "Judged" >> beam.Filter(_judged)
        failures = (
            judged
            | "StageKey" >> beam.Map(lambda r: (r.stage, r.key or r.source_id))
            | "DistinctElements" >> beam.Distinct()
            | "PerStage" >> beam.MapTuple(lambda stage, _: (stage, 1))
            | "CountFailures" >> beam.CombinePerKey(sum)
        )
        reasons = (
            judged
            | "StageReason" >> beam.Map(lambda r: ((r.stage, r.reason), 1))
            | "CountReasons" >> beam.CombinePerKey(sum)
        )
        guard, output = self.guard, self.output
        return stats | "Check" >> beam.Map(
            lambda s, failures, reasons: _check(s, failures, reasons, guard, output),
            beam.pvalue.AsList(failures), beam.pvalue.AsList(reasons))
