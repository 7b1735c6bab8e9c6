"""The fault-injection suite's ledger: every fault test records what it injected and what came out,
and the session ends with one table (fault kind -> outcome) plus totals — faults tried, crashes and
records unaccounted for. A fault test that crashes the run fails on its own; the table is the
human-readable summary the reliability suite promises, not the assertion."""

from __future__ import annotations

import dataclasses

import pytest


@dataclasses.dataclass(frozen=True)
class FaultRow:
    kind: str          # what was injected, e.g. "http 404"
    outcome: str       # what happened, e.g. "reject fetch/http_404" or "stopped: disk full"
    ingested: int = 0
    accepted: int = 0
    rejected: int = 0
    crashed: bool = False

    @property
    def unaccounted(self) -> int:
        return self.ingested - self.accepted - self.rejected


ROWS: list[FaultRow] = []


class FaultLog:
    def add(self, kind: str, outcome: str, *, ingested: int = 0, accepted: int = 0, rejected: int = 0,
            crashed: bool = False) -> FaultRow:
        row = FaultRow(kind, outcome, ingested, accepted, rejected, crashed)
        ROWS.append(row)
        return row


@pytest.fixture
def fault_log() -> FaultLog:
    return FaultLog()


def summary_lines(rows: list[FaultRow]) -> list[str]:
    if not rows:
        return []
    width = max(len(r.kind) for r in rows)
    lines = [f"{'fault'.ljust(width)}  outcome  (ingested = accepted + rejected)"]
    for r in sorted(rows, key=lambda r: r.kind):
        books = f"{r.ingested} = {r.accepted} + {r.rejected}" if r.ingested else "-"
        flag = "  CRASH" if r.crashed else ("  UNACCOUNTED" if r.unaccounted else "")
        lines.append(f"{r.kind.ljust(width)}  {r.outcome}  ({books}){flag}")
    lines.append(f"faults tried: {len(rows)}; crashes: {sum(r.crashed for r in rows)}; "
                 f"records unaccounted: {sum(abs(r.unaccounted) for r in rows)}")
    return lines
