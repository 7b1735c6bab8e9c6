"""The per-item audio path: its stages run back to back per item, in one process or a pool of
worker processes, and only small records leave it (audio by reference)."""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib

import apache_beam as beam
import pytest
from audio_files import write_audio

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import load_config
from tunescribe.schemas import Clip, DecodedAudio, SourceItem
from tunescribe.transforms.per_item import ItemResult, StageChain, Step
from tunescribe.transforms.stage import Rejected

CONFIG = """
name: path
output: out
inputs:
  - type: folder
    path: music
stats: {{speech: false}}
attributes: {{extractors: []}}
quality: {{require_caption: false}}
resources: {{workers: {workers}}}
"""


class Halve(beam.DoFn):
    """n -> n // 2, twice (a stage that cuts an item in two), or a reject for odd numbers."""

    def process(self, element):
        if element.n % 2:
            raise Rejected("odd", f"{element.n} is odd")
        yield from (Num(f"{element.key}_{i}", element.n // 2) for i in range(2))


class Fail(beam.DoFn):
    def __init__(self, error: Exception):
        self.error = error

    def process(self, element):
        raise self.error


class Num:
    def __init__(self, key: str, n: int):
        self.key, self.n = key, n
        self.source_id, self.input_uri, self.clip_index = key, "in", None


def test_chain_routes_each_failure_to_its_stage_and_counts_outputs():
    chain = StageChain((Step("cut", Halve(), "halves", lists_outputs=True), Step("cut", Halve(), "quarters")))
    chain.setup()
    result = chain.run(Num("a", 6))  # 6 -> 3, 3 -> both odd
    assert result.outputs == []
    assert [(r.stage, r.reason, r.key) for r in result.rejects] == [("cut", "odd", "a_0"), ("cut", "odd", "a_1")]
    assert result.counts == [("halves", "a_0"), ("halves", "a_1")]
    assert result.listed == [("a", ("a_0", "a_1"))]
    result = chain.run(Num("b", 8))
    assert [o.key for o in result.outputs] == ["b_0_0", "b_0_1", "b_1_0", "b_1_1"]
    assert [c[0] for c in result.counts] == ["halves", "quarters", "quarters", "halves", "quarters", "quarters"]


def test_chain_turns_a_bug_into_a_reject_but_a_full_disk_stops_the_run():
    bug = StageChain((Step("stats", Fail(ZeroDivisionError("boom"))),)).run(Num("x", 2))
    assert isinstance(bug, ItemResult) and bug.rejects[0].reason == "unexpected_error"
    assert "ZeroDivisionError" in bug.rejects[0].detail
    with pytest.raises(OSError) as stopped:
        StageChain((Step("encode", Fail(OSError(errno.ENOSPC, "No space left on device"))),)).run(Num("x", 2))
    assert stopped.value.errno == errno.ENOSPC


def shard_bytes(out: pathlib.Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("shards/*.tar"))}


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("path")
    for n in range(6):
        write_audio(root / "music" / f"t{n}.flac", seconds=12.0 + n, freq=220.0 * (n + 1))
    (root / "music" / "broken.mp3").write_text("not audio\n" * 100)
    return root


class ClipArrays(beam.DoFn):
    """A stage that, like decode + stats + encode, makes and frees a few MB of arrays per clip."""

    def process(self, element):
        import numpy as np

        for _ in range(30):
            arrays = [np.ones(2**18) for _ in range(5)]  # 5 x 2 MiB, pages touched
            del arrays
        yield element


def page_faults(fn) -> int:
    import resource

    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def test_an_item_reuses_the_memory_its_steps_free():
    """With glibc's own thresholds each clip's arrays are mapped anew and faulted in page by page
    (system time: ~12% of the per-item path in the pool's workers). Inside the chain, the freed
    memory is reused; after the item it goes back to the OS. Counts page faults, not time."""
    step = Step("stats", ClipArrays())
    chain = StageChain((step,))
    alone = page_faults(lambda: list(step.dofn.process(Num("a", 1))))
    in_chain = page_faults(lambda: chain.run(Num("a", 1)))
    assert alone > 30 * 2000  # each clip's 10 MiB faulted in again (2,560 pages)
    assert in_chain < alone / 5


@pytest.mark.parametrize("workers", [1, 2])
def test_no_element_that_crosses_the_graph_carries_pcm(music, workers, monkeypatch):
    """Beam pickles an element wherever it leaves a fused step (a GroupByKey, a Flatten, a side
    input, a second consumer): no decoded source and no clip with its PCM may ever be one."""
    def refuse_decoded(self, protocol):
        raise AssertionError("a DecodedAudio left the audio path")

    original = Clip.__reduce_ex__

    def clip_without_pcm(self, protocol):
        assert self.samples is None, f"clip {self.key} left the audio path with its PCM"
        return original(self, protocol)

    monkeypatch.setattr(DecodedAudio, "__reduce_ex__", refuse_decoded)
    monkeypatch.setattr(Clip, "__reduce_ex__", clip_without_pcm)
    config = music / f"w{workers}.yaml"
    config.write_text(CONFIG.format(workers=workers))
    stats = run_build(load_config(str(config), output=str(music / f"out{workers}")), [])
    assert stats["stages"]["clips"] == 6 * 2 and stats["sources"]["rejected"] == 1


def test_two_workers_write_the_same_corpus_as_one(music):
    one, two = music / "out1", music / "out2"
    if not (one / "manifest.json").exists() or not (two / "manifest.json").exists():
        pytest.skip("needs the builds of test_no_element_that_crosses_the_graph_carries_pcm")
    assert shard_bytes(one) and shard_bytes(one) == shard_bytes(two)
    for name in ("rejects.parquet", "stats.json", "SHA256SUMS"):
        assert (one / name).read_bytes() == (two / name).read_bytes()


def test_the_store_keeps_only_the_candidates_audio(music):
    out = music / "out1"
    if not (out / "manifest.json").exists():
        pytest.skip("needs the build of test_no_element_that_crosses_the_graph_carries_pcm")
    stored = sorted(p.name for p in (out / ".tunescribe" / "audio").rglob("*") if p.is_file())
    from tunescribe.transforms.quality.candidates import read_candidates

    candidates = read_candidates(str(out / ".tunescribe" / "candidates"))
    assert stored == sorted({f"{c.audio_sha256}.{c.audio_format}" for c in candidates})
    assert all(len((out / ".tunescribe" / "audio" / name[:2] / name).read_bytes()) > 0 for name in stored)


def test_a_worker_that_dies_costs_only_its_item(tmp_path):
    """A worker process killed mid-item (a crash in a native library, the OOM killer) breaks the
    pool; the items in flight are tried once more and the one that kills twice is rejected."""
    from tunescribe.transforms.per_item import RunStagesPerItem

    items = [SourceItem(source_id=f"s{n}", uri=f"/x/{n}", input_uri="in", order=(0, n)) for n in range(4)]
    with beam.Pipeline() as p:
        outputs = (p | beam.Create(items)
                   | beam.ParDo(RunStagesPerItem((Step("decode", KillOn("s2")),), workers=2)).with_outputs(
                       "rejects", main="outputs"))
        outputs.outputs | "Keys" >> beam.Map(lambda item: (tmp_path / f"ok-{item.source_id}").touch())
        outputs.rejects | "Rejects" >> beam.Map(lambda r: (tmp_path / f"rejected-{r.source_id}").write_text(r.detail))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok-s0", "ok-s1", "ok-s3", "rejected-s2"]
    assert "worker process died" in (tmp_path / "rejected-s2").read_text()


def test_an_item_sent_after_a_worker_died_is_not_lost():
    """The pool can break between two items (a worker killed while idle, or before its failed
    item is collected): the next item is refused by the pool itself. It is run again with the
    others, and nothing stops the run."""
    import signal
    import time

    from tunescribe.transforms.per_item import RunStagesPerItem
    from tunescribe.transforms.workers import _POOLS

    dofn = RunStagesPerItem((Step("decode", Halve()),), workers=2)
    dofn.setup()
    dofn.start_bundle()
    outputs = list(dofn.process(Num("a", 4)))
    pool = _POOLS[2]
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    for _ in range(6000):  # the pool's own thread notices the dead workers (a hang guard, not a timing)
        if pool._broken:
            break
        time.sleep(0.01)
    assert pool._broken
    outputs += list(dofn.process(Num("b", 8)))
    outputs += list(dofn.finish_bundle())
    made = sorted(getattr(o, "value", o).key for o in outputs if not isinstance(o, beam.pvalue.TaggedOutput))
    assert made == ["a_0", "a_1", "b_0", "b_1"]


class KillOn(beam.DoFn):
    def __init__(self, source_id: str):
        self.source_id = source_id

    def process(self, item):
        if item.source_id == self.source_id:
            os._exit(1)  # as a segfault would: no exception, no cleanup
        yield item


def test_workers_come_from_the_command_line_config_or_the_runner(tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions

    from tunescribe.pipelines.commands.build import with_workers
    from tunescribe.pipelines.runners import audio_workers

    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(workers="null"))
    cfg = load_config(str(config))
    cores = len(os.sched_getaffinity(0))
    assert audio_workers(cfg, PipelineOptions([])) == cores  # the DirectRunner in one process: every core
    assert audio_workers(cfg, PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])) == 1
    assert audio_workers(cfg, PipelineOptions(["--runner=PortableRunner"])) == 1
    assert audio_workers(with_workers(cfg, 3), PipelineOptions(["--runner=PortableRunner"])) == 3
    assert with_workers(cfg, 3).config_hash() == cfg.config_hash()  # where work runs never changes the corpus
