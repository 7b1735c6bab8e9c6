"""Runs the per-item audio stages back to back, one source item at a time, on every core.

fetch -> decode + cut (as the audio comes) -> stats -> attributes -> identity -> encode + store

These are the stages that need a source's PCM. Run as separate Beam steps, the decoded audio and
each clip's samples were Beam elements: the runner buffered and pickled them between steps and
materialised them wherever a PCollection had a second consumer (counts, ledger commits, flattens
with restored items) — about 8 GB of memory per hour of audio. Here they are one DoFn: an item's
PCM lives only inside `StageChain.run`, and what leaves it is small — each clip's record with its
audio in the store (transforms/audio/store.py), each reject, each counted (stage, key).

Each step keeps the contract of a `RunStage`: an exception in a stage is a reject naming that
stage (`rejected_of`, which stops the run on a full disk instead), and nothing is lost.

Every core: on a runner that gives this DoFn one process per machine (the DirectRunner's default),
`workers` > 1 runs the chain on that many items at once in a pool of worker processes
(transforms/workers.py). Items go out as they arrive and results come back as they finish, so a
long track does not hold up the rest; the outputs are the same, only their order differs, and
everything after this step is ordered by key.
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Optional

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from tunescribe.schemas import Reject
from tunescribe.transforms.stage import REJECTS, Rejected, reject_of, rejected_of, rejected_output

COUNTS = "counts"  # tagged output: (count name, element key) for each element a counted step made
LISTED = "listed"  # tagged output: (item key, clip keys) for each item a listing step cut up


@dataclasses.dataclass(frozen=True)
class Step:
    """One stage in the chain: its name for rejects, its DoFn, the name its outputs are counted
    under in the run stats (None: not counted), and whether it lists the clips an item was cut
    into (the resume ledger needs the list to know when an item is finished)."""

    stage: str
    dofn: beam.DoFn
    counted: Optional[str] = None
    lists_outputs: bool = False
    counts_input: Optional[str] = None  # count the input under this name once the step is through with it


@dataclasses.dataclass
class ItemResult:
    """Everything one item gave: small records only (the PCM stayed in the chain)."""

    outputs: list = dataclasses.field(default_factory=list)
    rejects: list[Reject] = dataclasses.field(default_factory=list)
    counts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    listed: list[tuple[str, tuple[str, ...]]] = dataclasses.field(default_factory=list)

    def mark(self) -> tuple[int, ...]:
        return len(self.outputs), len(self.rejects), len(self.counts), len(self.listed)

    def take_back(self, mark: tuple[int, ...]) -> None:
        """Forgets everything added since `mark`: what a step's earlier outputs gave, when the step
        fails after them (the item is rejected as a whole, as if they had never been made)."""
        for field, n in zip((self.outputs, self.rejects, self.counts, self.listed), mark):
            del field[n:]


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


_LIBC = _libc() if sys.platform == "linux" else None
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
ITEM_HEAP = 64 * 2**20  # freed memory an item's steps may keep for reuse before it goes back to the OS


def hold_memory() -> None:
    """Lets an item's steps reuse the memory they free. With glibc's own thresholds, each clip's
    arrays of more than a few hundred kB were mapped from the OS and handed back when freed, so
    every clip faulted its pages in anew: 2.5 million page faults and ~12% of the per-item time at
    3.6 h of audio in the pool's workers (benchmarks/audio_path.py), 150 thousand with this. The
    memory comes back to the OS when the item is done (`release_memory`)."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, ITEM_HEAP)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, ITEM_HEAP)


def release_memory() -> None:
    """Hands the heap an item's PCM left free back to the OS, and puts glibc's thresholds back for
    the steps that follow. glibc keeps freed memory for reuse, so after a long source a worker
    would otherwise hold its peak for the rest of the run."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        _LIBC.malloc_trim(0)


class StageChain:
    """The steps as one function of an item (depth first: one clip at a time after the cut)."""

    def __init__(self, steps: tuple[Step, ...]):
        self.steps = tuple(steps)

    def setup(self) -> None:
        for step in self.steps:
            step.dofn.setup()

    def teardown(self) -> None:
        for step in self.steps:
            step.dofn.teardown()

    def run(self, element) -> ItemResult:
        result = ItemResult()
        hold_memory()
        try:
            self._through(0, element, result)
        finally:
            release_memory()
        return result

    def _through(self, i: int, element, result: ItemResult) -> None:
        if i == len(self.steps):
            result.outputs.append(element)
            return
        step, mark, keys = self.steps[i], result.mark(), []
        try:
            # Each output goes through the rest of the chain before the next is made: a step that
            # cuts a source into clips as it decodes holds one clip's PCM at a time, not the source.
            for out in step.dofn.process(element) or ():
                keys.append(out.key)
                if step.counted:
                    result.counts.append((step.counted, out.key))
                self._through(i + 1, out, result)
        except Exception as exc:  # noqa: BLE001 - every failure of an element is its reject
            result.take_back(mark)
            result.rejects.append(reject_of(step.stage, element, rejected_of(step.stage, exc)))
            return
        if step.lists_outputs:
            result.listed.append((element.key, tuple(keys)))
        if step.counts_input:
            result.counts.append((step.counts_input, element.key))


class RunStagesPerItem(beam.DoFn):
    """Items -> main: what the last step made; [REJECTS]: rejects; [COUNTS]: (name, key) of every
    counted output; [LISTED]: (item key, clip keys) of every listing step. See the module doc."""

    def __init__(self, steps: tuple[Step, ...], workers: int = 1):
        self.steps, self.workers = tuple(steps), max(1, int(workers))

    def setup(self):
        self.counters = {}
        if self.workers == 1:
            self.chain = StageChain(self.steps)
            self.chain.setup()
        else:
            from tunescribe.transforms.workers import ChainPool

            self.pool = ChainPool(self.workers, self.steps)

    def teardown(self):
        if self.workers == 1:
            self.chain.teardown()

    def start_bundle(self):
        self.pending: OrderedDict = OrderedDict()  # future -> item

    def process(self, item):
        if self.workers == 1:
            yield from self._emit(self.chain.run(item))
            return
        self._submit(item)
        # Enough in flight to keep every worker busy while results wait to be taken.
        yield from self._collect(block=len(self.pending) >= 2 * self.workers)

    def finish_bundle(self):
        if self.workers == 1:
            return
        while self.pending:
            for out in self._collect(block=True):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
                else:
                    yield GlobalWindows.windowed_value(out)
        # The audio is done: the workers' memory goes back before the steps across items need it.
        self.pool.close()

    def _submit(self, item) -> None:
        try:
            future = self.pool.submit(item)
        except BrokenProcessPool as exc:
            # A worker died since the last collect: the pool refuses new items before its failed
            # futures are taken. This item goes with the others in flight (`_collect` below).
            future = Future()
            future.set_exception(exc)
        self.pending[future] = item

    def _collect(self, block: bool):
        if block and self.pending:
            wait(list(self.pending), return_when=FIRST_COMPLETED)
        for future in [f for f in self.pending if f.done()]:
            item = self.pending.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool:
                # A worker died (killed, or crashed in a native library) with this item among those
                # in flight: each of them is run again alone, so the one that kills a worker is
                # known and rejected, and the others go on.
                suspects = [item, *self.pending.values()]
                self.pending.clear()
                self.pool.restart()
                for suspect in suspects:
                    yield from self._emit(self._alone(suspect))
                return
            yield from self._emit(result)

    def _alone(self, item) -> ItemResult:
        try:
            return self.pool.submit(item).result()
        except BrokenProcessPool:
            self.pool.restart()
            return ItemResult(rejects=[reject_of(self.steps[0].stage, item, Rejected(
                "unexpected_error", "a worker process died while processing it (killed, out of memory, or a crash)",
                transient=True))])

    def _emit(self, result: ItemResult):
        for name, key in result.counts:
            self._count(name)
            yield beam.pvalue.TaggedOutput(COUNTS, (name, key))
        for listed in result.listed:
            yield beam.pvalue.TaggedOutput(LISTED, listed)
        for reject in result.rejects:
            yield rejected_output(reject)
        yield from result.outputs

    def _count(self, name: str) -> None:
        if name not in self.counters:
            self.counters[name] = beam.metrics.Metrics.counter("stages", name)
        self.counters[name].inc()


def is_direct(pipeline) -> bool:
    """Whether the pipeline runs in this process (the DirectRunner), where a pool started now is
    the one its DoFn will use."""
    from apache_beam.options.pipeline_options import StandardOptions

    runner = pipeline.options.view_as(StandardOptions).runner if pipeline.options else None
    return runner in (None, "DirectRunner", "direct") or type(runner).__name__ in ("DirectRunner", "SwitchingDirectRunner")


class AudioPath(beam.PTransform):
    """Applies RunStagesPerItem: items -> (outputs, rejects, counts, listed)."""

    def __init__(self, steps: tuple[Step, ...], workers: int = 1):
        super().__init__()
        self.steps, self.workers = tuple(steps), workers

    def expand(self, items):
        if self.workers > 1 and is_direct(items.pipeline):
            from tunescribe.transforms.workers import ChainPool

            ChainPool(self.workers, self.steps).warm_up()  # the pool starts while the pipeline does
        results = items | "Stages" >> beam.ParDo(RunStagesPerItem(self.steps, self.workers)).with_outputs(
            REJECTS, COUNTS, LISTED, main="outputs")
        return results.outputs, results[REJECTS], results[COUNTS], results[LISTED]
