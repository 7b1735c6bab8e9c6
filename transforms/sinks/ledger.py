"""The resume ledger: per-sample commits that let a rerun skip finished work and retry what failed.

While a build runs, every outcome after the skip point is appended to the ledger folder as it
happens: each clip that came through the per-item stages (its record; its audio is in the audio
store, transforms/audio/store.py, by sha256), each reject, the clip keys an item was cut into, and
which element each counted stage saw (so run stats come out the same). Records are small (no
audio), buffered for a few seconds and written as Parquet files, each one atomically (temp +
rename, through Beam's FileSystems), so a kill -9 loses at most the unwritten buffer and never
leaves half a file — on any runner and any filesystem.

A rerun with the same config reads the ledger before any stage runs. An item is restored from
it, not processed, when one run recorded a complete, final outcome for it: a final whole-item
reject, or the list of its clips with each one accepted (and its audio still in the store) or
finally rejected. A reject is final unless it is `transient` — a failure of the moment (network,
a file not there yet, an unexpected error), as the stage that raised it said. Items never
finished, or rejected for a transient reason, go through the stages again. A clip that was
accepted although one of its model captions failed for a transient reason (a reject with a
`part`) is restored with its other captions and sent through the caption stages for the failed
ones only (RECAPTION; transforms/captions/redo.py): its decode, stats and other captions are not
redone. Shards are then planned from restored + new clips together, so the corpus is the same as
an uninterrupted run's. Stages between the skip point and the commit must decide per item or per
clip, never across items (cross-item stages belong after `commit_and_restore`).

Once a build has finished, compact.py rewrites the ledger as one record set per settled item.
The ledger lives in `<corpus>/.tunescribe/ledger/<fingerprint>/`: a new config, tool version or
schema version gets a new folder (and the build drops the old one), so nothing stale is restored.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections import defaultdict
from typing import Optional

import apache_beam as beam
import pyarrow as pa
from apache_beam.io import fileio
from apache_beam.transforms.window import GlobalWindows

from tunescribe.schemas import CLIP_SCHEMA, REJECT_SCHEMA, Clip, Reject
from tunescribe.schemas.layout import source_key_of
from tunescribe.transforms import failpoints
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.captions.redo import Redo
from tunescribe.transforms.corpus.readers import read_table
from tunescribe.transforms.sinks.files import write_bytes_atomically
from tunescribe.transforms.sinks.parquet import parquet_bytes
from tunescribe.transforms.stage import REJECTS, rejected_output

LEDGER_VERSION = "4"  # 4: rejects say themselves whether they are transient; captions are redone alone

# The process's writer flushes its buffer when any of these is reached (and at the end of each
# bundle): a kill loses at most this much committed work.
FLUSH_RECORDS = 1024
FLUSH_BYTES = 16 * 2**20
FLUSH_SECONDS = 5.0

ACCEPTED, COUNTS, CLIPS = "accepted", "counts", "clips"  # and REJECTS: a ledger kind and an output tag
RECAPTION = "recaption"  # SkipCommitted's output of committed clips whose failed captions are asked again

LEDGER_SCHEMA = pa.schema([
    pa.field("run", pa.string(), nullable=False),  # run id: records of one run are judged together
    pa.field("item", pa.string(), nullable=False),  # source item key
    pa.field("kind", pa.string(), nullable=False),  # accepted | rejects | counts | clips
    pa.field("key", pa.string(), nullable=False),  # the element's key (item or clip)
    pa.field("stage", pa.string()),  # counts: the counted stage's name
    pa.field("clips", pa.list_(pa.string())),  # clips: the clip keys the item was cut into
    pa.field("clip", pa.struct(list(CLIP_SCHEMA))),  # accepted: the clip row (its audio: in the store)
    pa.field("reject", pa.struct(list(REJECT_SCHEMA))),  # rejects: the reject row
])
COMPACT_RUN = ""  # the run id of compacted records: older than any real run


@dataclasses.dataclass(frozen=True)
class Ledger:
    """Where this build's ledger lives (a folder per config fingerprint) and this run's id."""

    directory: str
    run: str = dataclasses.field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:8])


def _record(run: str, kind: str, key: str, **fields) -> dict:
    return {"run": run, "item": source_key_of(key), "kind": kind, "key": key, **fields}


def accepted_record(run: str, clip: Clip) -> tuple[dict, int]:
    return _record(run, ACCEPTED, clip.key, clip=clip.to_row()), 4096


def reject_record(run: str, reject: Reject) -> tuple[Optional[dict], int]:
    if not reject.key:  # nothing after the skip point lacks a key; such a reject cannot be restored
        return None, 0
    return _record(run, REJECTS, reject.key, stage=reject.stage, reject=reject.to_row()), 512


def count_record(stage: str, run: str, key: str) -> tuple[dict, int]:
    return _record(run, COUNTS, key, stage=stage), 64


def listed_record(run: str, listed: tuple[str, tuple[str, ...]]) -> tuple[dict, int]:
    """The clip keys an item was cut into: a rerun knows an item is finished only when each of
    them has a final outcome."""
    item_key, keys = listed
    return _record(run, CLIPS, item_key, clips=list(keys)), 64 + 24 * len(keys)


class _Writer:
    """Buffers ledger records and writes them as one Parquet file now and then.

    One writer per process (and ledger run), shared by every tap: an item's records — its clip
    list, its outcomes, its stage counts — come from several DoFns, and a flush writes all of
    them at once, so whatever was settled before a flush is restorable after a kill."""

    def __init__(self, ledger: Ledger):
        self.ledger, self.lock = ledger, threading.Lock()
        self.rows, self.bytes, self.since = [], 0, time.monotonic()

    def add(self, row: Optional[dict], nbytes: int) -> None:
        if row is None:
            return
        with self.lock:
            self.rows.append(row)
            self.bytes += nbytes
            due = (len(self.rows) >= FLUSH_RECORDS or self.bytes >= FLUSH_BYTES
                   or time.monotonic() - self.since >= FLUSH_SECONDS)
        if due:
            self.flush()

    def flush(self) -> None:
        # Holding the lock while writing: when a bundle's flush returns, every record added
        # before it (by any thread) is on disk — the commit signals rely on that.
        with self.lock:
            if self.rows:
                path = f"{self.ledger.directory}/{self.ledger.run}-{uuid.uuid4().hex}.parquet"
                write_bytes_atomically(path, parquet_bytes(self.rows, LEDGER_SCHEMA))
                beam.metrics.Metrics.counter("ledger", "records_committed").inc(len(self.rows))
                failpoints.reached("ledger_flushed")
            self.rows, self.bytes, self.since = [], 0, time.monotonic()


_WRITERS: dict[tuple[str, str], _Writer] = {}
_WRITERS_LOCK = threading.Lock()


def writer_for(ledger: Ledger) -> _Writer:
    with _WRITERS_LOCK:
        key = (ledger.directory, ledger.run)
        if key not in _WRITERS:
            _WRITERS[key] = _Writer(ledger)
        return _WRITERS[key]


class _Commit(beam.DoFn):
    """Appends a record per element to the ledger. Outputs one count per bundle, once its records
    are on disk, so a later step can wait for every commit (see CompactLedger)."""

    def __init__(self, ledger: Ledger, make_record, *args):
        self.ledger, self.make_record, self.args = ledger, make_record, args

    def start_bundle(self):
        self.writer, self.n = writer_for(self.ledger), 0

    def process(self, element):
        self.writer.add(*self.make_record(*self.args, self.ledger.run, element))
        self.n += 1

    def finish_bundle(self):
        self.writer.flush()
        yield GlobalWindows.windowed_value(self.n)


def read_ledger(path: str) -> list[tuple[str, dict]]:
    """(item key, record) for every record of one ledger file."""
    return [(row["item"], row) for row in read_table(path).to_pylist()]


def _unique(rows: list[dict]) -> list[dict]:
    return list({json.dumps(r, sort_keys=True, default=str): r for r in rows}.values())


@dataclasses.dataclass(frozen=True)
class Outcome:
    """An item settled for good: what a rerun restores instead of processing it."""

    listed: Optional[tuple[str, ...]]  # the clips it was cut into (None: rejected before cutting)
    accepted: list[dict]  # ledger records of its accepted clips
    rejects: list[dict]  # final reject rows (of the item, of its rejected clips, of parts of accepted ones)
    counts: frozenset  # (stage name, element key) of every counted stage it passed
    pending: list[dict] = dataclasses.field(default_factory=list)  # transient rejects of parts of accepted clips

    def redo(self) -> dict[str, frozenset]:
        """Accepted clip key -> the parts (captions) to ask for again."""
        parts = defaultdict(set)
        for row in self.pending:
            parts[row["key"]].add(row["part"])
        return {key: frozenset(names) for key, names in parts.items()}


def _complete(item_key: str, records: list[dict]) -> Optional[Outcome]:
    """The outcome these records of one run give the item, if final; None if it needs work."""
    accepted, rejects, listed, counts = {}, defaultdict(list), None, set()
    for r in records:
        if r["kind"] == ACCEPTED:
            accepted[r["key"]] = r
        elif r["kind"] == REJECTS:
            rejects[r["key"]].append(r["reject"])
        elif r["kind"] == CLIPS:
            listed = tuple(r["clips"])
        elif r["kind"] == COUNTS:
            counts.add((r["stage"], r["key"]))

    def final(key):
        return _unique([x for x in rejects.get(key, []) if not x["transient"]])

    out_rejects = final(item_key)
    if listed is None:
        return Outcome(None, [], out_rejects, frozenset(counts)) if out_rejects else None
    out_accepted, pending = [], []
    for clip_key in listed:
        if clip_key in accepted:
            again = _unique([x for x in rejects.get(clip_key, []) if x["transient"]])
            if any(x["part"] is None for x in again):  # only a part (a caption) can be redone alone
                return None
            out_accepted.append(accepted[clip_key])
            out_rejects += final(clip_key)  # e.g. a caption the model answered badly: the clip went on
            pending += again
            continue
        settled = final(clip_key)
        if not settled:
            return None
        out_rejects += settled
    return Outcome(listed, out_accepted, out_rejects, frozenset(counts), pending)


def restorable(item_key: str, records: list[dict]) -> Optional[Outcome]:
    """The newest run's complete outcome for the item, or None."""
    by_run = defaultdict(list)
    for r in records:
        by_run[r["run"]].append(r)
    for run in sorted(by_run, reverse=True):
        outcome = _complete(item_key, by_run[run])
        if outcome is not None:
            return outcome
    return None


def outcome_records(run: str, item_key: str, outcome: Outcome) -> list[dict]:
    """The ledger records that restore `outcome` (compaction writes them; a rerun that redoes
    captions writes the rest of the item with them)."""
    base = {"run": run, "item": item_key}
    out = []
    if outcome.listed is not None:
        out.append({**base, "kind": CLIPS, "key": item_key, "clips": list(outcome.listed)})
    for r in outcome.accepted:
        out.append({**base, "kind": ACCEPTED, "key": r["key"], "clip": r["clip"]})
    for row in [*outcome.rejects, *outcome.pending]:
        out.append({**base, "kind": REJECTS, "key": row["key"], "stage": row["stage"], "reject": row})
    for stage, key in sorted(outcome.counts):
        out.append({**base, "kind": COUNTS, "key": key, "stage": stage})
    return out


def restore_clip(record: dict, store: AudioStore) -> Optional[Clip]:
    """The committed clip of a ledger record, if its audio is still in the store (else None: the
    item is done again). The clip is restored as committed: decisions after the commit (e.g. a
    dropped caption) are made again from it."""
    clip = Clip.from_row(record["clip"])
    return clip if clip.audio_sha256 and store.has(clip.audio_sha256, clip.audio_format) else None


class _Decide(beam.DoFn):
    def __init__(self, ledger: Ledger, store: AudioStore, recounted: tuple[str, ...]):
        self.ledger, self.store, self.recounted = ledger, store, recounted

    def start_bundle(self):
        self.writer = writer_for(self.ledger)

    def process(self, keyed):
        item_key, grouped = keyed
        items = list(grouped["items"])
        if not items:  # in the ledger but no longer in the inputs
            return
        outcome = restorable(item_key, list(grouped["records"]))
        clips = [restore_clip(r, self.store) for r in outcome.accepted] if outcome else []
        if outcome is None or any(c is None for c in clips):
            yield items[0]
            return
        redo = outcome.redo()
        counts = outcome.counts
        if redo:
            beam.metrics.Metrics.counter("ledger", "items_recaptioned").inc()
            # Counted again as the clips pass those stages once more.
            counts = frozenset(sk for sk in counts if not (sk[0] in self.recounted and sk[1] in redo))
            # This run records the rest of the item now; the redone clips are committed as they
            # come out of the stages. Killed before that, this run's record of the item is
            # incomplete and the next run goes by the earlier one, captions to redo and all.
            rest = dataclasses.replace(outcome, accepted=[r for r in outcome.accepted if r["key"] not in redo],
                                       counts=counts, pending=[])
            for row in outcome_records(self.ledger.run, item_key, rest):
                self.writer.add(row, 512)
        else:
            beam.metrics.Metrics.counter("ledger", "items_restored").inc()
        for clip in clips:
            if clip.key in redo:
                yield beam.pvalue.TaggedOutput(RECAPTION, Redo(clip, redo[clip.key]))
            else:
                yield beam.pvalue.TaggedOutput(ACCEPTED, clip)
        for row in outcome.rejects:
            yield rejected_output(Reject.from_row(row))
        for stage_key in sorted(counts):
            yield beam.pvalue.TaggedOutput(COUNTS, stage_key)

    def finish_bundle(self):
        self.writer.flush()


class SkipCommitted(beam.PTransform):
    """Unique source items -> `.todo` (items to process) and the restored outcomes of the
    others: `[ACCEPTED]` clips, `[REJECTS]`, `[COUNTS]` ((stage name, element key) pairs), and
    `[RECAPTION]`: `Redo`s of committed clips whose captions failed for a transient reason, to
    send through the caption stages again (they pass the `recounted` counted stages again).
    `store` holds the committed clips' audio."""

    def __init__(self, ledger: Ledger, store: AudioStore, recounted: tuple[str, ...] = ()):
        super().__init__()
        self.ledger, self.store, self.recounted = ledger, store, recounted

    def expand(self, items):
        records = (
            items.pipeline
            | "MatchLedger" >> fileio.MatchFiles(f"{self.ledger.directory}/*.parquet",
                                                 fileio.EmptyMatchTreatment.ALLOW)
            | "Paths" >> beam.Map(lambda m: m.path)
            | "ReadLedger" >> beam.FlatMap(read_ledger)
        )
        return (
            {"items": items | "ByKey" >> beam.Map(lambda item: (item.key, item)), "records": records}
            | "Join" >> beam.CoGroupByKey()
            | "Decide" >> beam.ParDo(_Decide(self.ledger, self.store, self.recounted)).with_outputs(
                ACCEPTED, REJECTS, COUNTS, RECAPTION, main="todo")
        )


def commit_and_restore(ledger: Ledger, restored, accepted, rejects: list, counts: dict, listed):
    """Commits this run's outcomes to the ledger and merges in the restored ones.

    `accepted`: clips that reached the end of the per-item stages; `rejects`: the reject
    PCollections of those stages; `counts`: stage name -> PCollection of the keys it counted;
    `listed`: (item key, clip keys) of every item cut into clips.
    Returns (all accepted clips, all these rejects, {stage name: PCollection of keys}, commits):
    `commits` is complete only once every record of this run is on disk."""
    signals = [accepted | "CommitAccepted" >> beam.ParDo(_Commit(ledger, accepted_record)),
               listed | "CommitListed" >> beam.ParDo(_Commit(ledger, listed_record))]
    for n, pc in enumerate(rejects):
        signals.append(pc | f"CommitRejects{n}" >> beam.ParDo(_Commit(ledger, reject_record)))
    merged_counts = {}
    for name, pc in counts.items():
        signals.append(pc | f"CommitCount[{name}]" >> beam.ParDo(_Commit(ledger, count_record, name)))
        again = restored[COUNTS] | f"Restored[{name}]" >> beam.FlatMap(
            lambda stage_key, name=name: [stage_key[1]] if stage_key[0] == name else [])
        merged_counts[name] = (pc, again) | f"WithRestored[{name}]" >> beam.Flatten()
    all_accepted = (accepted, restored[ACCEPTED]) | "WithRestoredClips" >> beam.Flatten()
    all_rejects = (*rejects, restored[REJECTS]) | "WithRestoredRejects" >> beam.Flatten()
    commits = signals | "AllCommits" >> beam.Flatten()
    return all_accepted, all_rejects, merged_counts, commits
