"""Helpers of the fault-injection suite (tests/faults/): run a real build under a hang
watchdog, read its outcome per source item, and record it in the session's fault table."""

from __future__ import annotations

import faulthandler
import json
import pathlib
import sys

import pyarrow.parquet as pq

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import load_config

HANG_S = 240  # a build that takes longer than this is hung: dump every thread's stack and exit


def build_under_watchdog(config: pathlib.Path) -> dict:
    """`run_build` in-process; a hang ends the test session with the stacks of every thread
    (where it hangs), rather than a CI job that times out saying nothing."""
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=sys.__stderr__)
    try:
        return run_build(load_config(str(config)), [])
    finally:
        faulthandler.cancel_dump_traceback_later()


class Books:
    """A built corpus's outcome per source id (the manifest's `id` column)."""

    def __init__(self, out: pathlib.Path):
        self.out = pathlib.Path(out)
        self.stats = json.loads((self.out / "stats.json").read_text())
        self.clips = pq.read_table(self.out / "clips").to_pylist() if any((self.out / "clips").glob("*.parquet")) else []
        self.rejects = pq.read_table(self.out / "rejects.parquet").to_pylist()

    def accepted(self, source_id: str) -> bool:
        return any(c["source_id"] == source_id for c in self.clips)

    def reasons(self, source_id: str) -> list[str]:
        """`stage/reason` of every reject row of the item (whole item, clip or caption), sorted."""
        return sorted(f"{r['stage']}/{r['reason']}" for r in self.rejects if r["source_id"] == source_id)

    def record(self, fault_log, kind: str, source_id: str, outcome: str = "") -> str:
        """Adds the item's row to the fault table (ingested 1 = accepted + rejected) and returns
        its outcome text: "accepted" or "reject <stage/reason>" (the first of its rows)."""
        ok, reasons = self.accepted(source_id), self.reasons(source_id)
        text = outcome or ("accepted" if ok else f"reject {reasons[0]}" if reasons else "LOST")
        fault_log.add(kind, text, ingested=1, accepted=int(ok), rejected=int(not ok and bool(reasons)))
        return text

    def balanced(self) -> bool:
        s = self.stats["sources"]
        return s["ingested"] == s["accepted"] + s["rejected"]
