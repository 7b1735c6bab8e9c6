"""The build's progress line: tallied from ledger files the real ledger writer wrote, formatted,
and shown by the real CLI off a terminal. Times come from a fake clock: nothing here depends on
how fast the machine is."""

from __future__ import annotations

import io
import json
import logging
import pathlib
import re
import subprocess
import sys
import threading

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.pipelines import progress
from tunescribe.pipelines.progress import (
    LedgerTally,
    ProgressReporter,
    cut,
    duration_text,
    progress_line,
    read_tally_rows,
)
from tunescribe.schemas import Clip, Provenance, Reject
from tunescribe.transforms.sinks.files import write_bytes_atomically
from tunescribe.transforms.sinks.ledger import (
    CLIPS,
    LEDGER_SCHEMA,
    Ledger,
    _record,
    accepted_record,
    count_record,
    reject_record,
    writer_for,
)
from tunescribe.transforms.sinks.parquet import parquet_bytes
from tunescribe.transforms.sinks.progress import WriteRunTotals, totals_json

REPO = pathlib.Path(__file__).resolve().parents[2]
RUN = "20260101T000000-aaaaaaaa"
A, B, C = "a" * 16, "b" * 16, "c" * 16  # source item keys


def clip(item: str, index: int, seconds: float = 10.0) -> Clip:
    return Clip(key=f"{item}_{index:05d}", source_id=item, clip_index=index, start_s=index * seconds,
                end_s=(index + 1) * seconds, sample_rate=16000, channels=1,
                provenance=Provenance("m.csv", "a.wav", "0.1.0", "abc"), audio_sha256="ab" * 32, audio_size=64,
                audio_format="flac")


def reject(key: str, stage: str, reason: str, clip_index=None) -> Reject:
    return Reject(source_id="s", stage=stage, reason=reason, detail="", input_uri="m.csv", key=key,
                  clip_index=clip_index)


def listing(item: str, n: int) -> tuple[dict, int]:
    return _record(RUN, CLIPS, item, clips=[f"{item}_{i:05d}" for i in range(n)]), 64


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(tmp_path):
    return Ledger(str(tmp_path / "ledger"), run=RUN)


def commit(ledger: Ledger, *records) -> None:
    """Records written as the build writes them: buffered by the process's writer, one file per flush."""
    writer = writer_for(ledger)
    for record in records:
        writer.add(*record)
    writer.flush()


def reporter(ledger: Ledger, tmp_path, clock=None, **kw) -> ProgressReporter:
    return ProgressReporter(ledger.directory, str(tmp_path / "progress.json"), every_s=30, stream=io.StringIO(),
                            live=kw.pop("live", False), clock=clock or Clock(), **kw)


def test_sources_and_clips_count_once_every_outcome_is_in(ledger, tmp_path, monkeypatch):
    reads = []
    monkeypatch.setattr(progress, "read_tally_rows", lambda path: reads.append(path) or read_tally_rows(path))
    commit(ledger, listing(C, 1), accepted_record("earlier", clip(C, 0)))  # an earlier run's: left out
    shown = reporter(ledger, tmp_path).start()
    try:
        commit(ledger, listing(A, 3), accepted_record(RUN, clip(A, 0)),
               reject_record(RUN, reject(f"{A}_00001", "quality", "too_quiet", 1)),
               reject_record(RUN, reject(B, "decode", "not_audio")), count_record("decoded", RUN, clip(A, 0).key))
        shown.poll()
        tally = shown.tally
        assert (tally.sources_done, tally.clips_done, tally.audio_s) == (1, 2, 10.0)  # A waits for its 3rd clip
        assert tally.rejects_by_stage() == {"decode": 1, "quality": 1}
        commit(ledger, accepted_record(RUN, clip(A, 2, seconds=5.0)),
               reject_record(RUN, reject(B, "decode", "not_audio")))  # a retried bundle commits it again
        shown.poll()
        shown.poll()
        assert (tally.sources_done, tally.clips_done, tally.audio_s) == (2, 3, 15.0)
        assert tally.rejects_by_stage() == {"decode": 1, "quality": 1}
        assert len(reads) == 2 and len(set(reads)) == 2  # each new file read once, the earlier run's never
    finally:
        shown.stop()


def test_compacted_files_and_missing_columns(ledger, tmp_path):
    shown = reporter(ledger, tmp_path).start()
    # The end-of-build compaction rewrites what was committed: not new work.
    compacted = accepted_record("", clip(A, 0))[0]
    write_bytes_atomically(f"{ledger.directory}/compact-all.parquet", parquet_bytes([compacted], LEDGER_SCHEMA))
    # A ledger whose accepted records carry no audio column (the audio kept elsewhere).
    no_audio = pa.schema([f for f in LEDGER_SCHEMA if f.name != "audio"])
    rows = [{k: v for k, v in r.items() if k != "audio"} for r, _ in (listing(B, 1), accepted_record(RUN, clip(B, 0)))]
    write_bytes_atomically(f"{ledger.directory}/{RUN}-x.parquet", parquet_bytes(rows, no_audio))
    shown.poll()
    shown.stop()
    assert (shown.tally.sources_done, shown.tally.clips_done, shown.tally.audio_s) == (1, 1, 10.0)
    assert set(read_tally_rows(f"{ledger.directory}/{RUN}-x.parquet")[1]) == {
        "item", "kind", "key", "stage", "clips", "clip"}  # never the audio, nor the rest of the clip row


def test_totals_restored_items_and_eta_from_a_fake_clock(ledger, tmp_path):
    clock = Clock()
    shown = reporter(ledger, tmp_path, clock=clock).start()
    shown.poll()
    assert shown.line().startswith("sources listing… · clips 0 · ")
    write_bytes_atomically(str(tmp_path / "progress.json"), totals_json(items=10, restored=5))
    commit(ledger, listing(A, 1), accepted_record(RUN, clip(A, 0, seconds=7200.0)),
           reject_record(RUN, reject(B, "fetch", "network_error")))
    clock.now += 100
    shown.poll()
    shown.stop()
    # 2 of the 10 to process in 100 s: 8 more take 400 s; the 5 restored count as done.
    assert shown.line() == "sources 7/15 · clips 1 · 2.0 h audio · 0.01 clips/s · ETA 6m40s · rejects fetch 1"


def test_line_format():
    tally = LedgerTally()
    assert progress_line(tally, {"items": 3, "restored": 0}, 5) == \
        "sources 0/3 · clips 0 · 0.0 min audio · 0.00 clips/s · ETA –"
    tally.add([{"item": A, "kind": CLIPS, "key": A, "clips": []}] + [
        {"item": A, "kind": "rejects", "key": f"{A}_{i:05d}", "stage": "quality"} for i in range(1212)])
    line = progress_line(tally, {"items": 1, "restored": 0}, 100)
    assert line == "sources 1/1 · clips 1,212 · 0.0 min audio · 12.1 clips/s · finishing · rejects quality 1,212"
    assert progress_line(tally, None, 100, width=30) == "sources listing… · clips 1,2…"
    assert len(progress_line(tally, None, 100, width=30)) == 29  # one column spare: no wrap
    assert cut("short", 80) == "short" and cut("x" * 100, None) == "x" * 100
    assert [duration_text(s) for s in (0, 59.4, 130, 3900, 90000)] == ["0s", "59s", "2m10s", "1h05m", "1d01h"]


def test_live_line_is_rewritten_cleared_before_logs_and_at_the_end(ledger, tmp_path):
    shown = reporter(ledger, tmp_path, live=True)  # not started: shown by hand, so the order of writes is known
    handler = logging.StreamHandler(shown.stream)
    handler.addFilter(shown.log_filter)  # what start() puts on the root logger's handlers
    logger = logging.getLogger("tunescribe.test_progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        shown._show()
        logger.warning("a log record")
        shown._show()
    finally:
        logger.removeHandler(handler)
    text = shown.stream.getvalue()
    assert text.startswith("\rsources listing…") and "\x1b[K\r\x1b[Ka log record\n\rsources listing…" in text
    shown.stop(finished=False)  # a failed run keeps its last line in sight
    assert shown.stream.getvalue().endswith("\x1b[K\n")
    shown._show()
    shown.stop(finished=True)  # a finished one clears it for the summary
    assert shown.stream.getvalue().endswith("\r\x1b[K")


def test_write_run_totals_counts_and_passes_the_items_on(tmp_path):
    path = str(tmp_path / "progress.json")
    with beam.Pipeline() as p:
        unique = p | "Unique" >> beam.Create(["a", "b", "c", "d"])
        todo = p | "Todo" >> beam.Create(["b", "d"])
        assert_that((todo, unique) | WriteRunTotals(path), equal_to(["b", "d"]))
    assert json.loads(pathlib.Path(path).read_text()) == {"items": 2, "restored": 2}


def test_cli_prints_plain_progress_lines_off_a_terminal(tmp_path):
    example = tmp_path / "basic"
    example.mkdir()
    for name in ("make_audio.py", "manifest.csv", "config.yaml"):
        (example / name).write_bytes((REPO / "examples" / "basic" / name).read_bytes())
    subprocess.run([sys.executable, "make_audio.py"], cwd=example, check=True, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "tunescribe.pipelines.cli", "build", "config.yaml",
                           "--progress-every", "0.5"], cwd=example, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("sources ")]
    assert lines and lines[-1].startswith("sources 8/8 · clips 12 · "), done.stderr[-3000:]
    assert all(re.fullmatch(r"sources (listing…|\d+/8) · clips \d+ · .*", line) for line in lines)
    assert "\r" not in done.stderr  # plain lines: a log stays readable
    assert "built corpus 'example'" in done.stdout and "sources  8 ingested" in done.stdout
    assert not (example / "corpus" / ".tunescribe" / "progress.json").exists()  # the run's alone


def test_progress_every_zero_turns_it_off_and_negative_is_refused(tmp_path):
    from tunescribe.pipelines.cli import main

    with progress.progress_shown(str(tmp_path), str(tmp_path / "progress.json"), 0):
        assert not [t for t in threading.enumerate() if t.name == "tunescribe-progress"]
    with pytest.raises(SystemExit) as refused:
        main(["build", "config.yaml", "--progress-every", "-1"])
    assert refused.value.code == 2
