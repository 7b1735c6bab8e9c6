"""pipelines/runners.py: the pipeline a command runs lets go of the steps it has finished."""

from __future__ import annotations

import gc

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.worker import bundle_processor, sdk_worker
from apache_beam.runners.worker.data_plane import ClosableOutputStream
from apache_beam.testing.util import BeamAssertException, assert_that

from tunescribe.pipelines.runners import KEPT_PROCESSORS, new_pipeline

# Taken at collection, before any test made a pipeline with new_pipeline.
BEAMS_OWN_FINISH = bundle_processor.DataOutputOperation.finish
BEAMS_OWN_RELEASE = sdk_worker.BundleProcessorCache.release
BIG = 4 << 20  # one step's output, encoded: well above a stream's starting size, under Beam's 10 MB flush
DIRECT = PipelineOptions(["--runner=DirectRunner"])


def _held_buffers(_) -> int:
    """Output streams alive in this process (the in-process worker's) that hold a whole big
    output, counted from a step that runs after the big one finished."""
    gc.collect()
    # type(), not isinstance(): the heap holds dead weak proxies, which raise on isinstance.
    return sum(issubclass(type(s), ClosableOutputStream) and s.size() >= BIG for s in gc.get_objects())


def _check(held_ok):
    def check(found):
        if len(found) != 1 or not held_ok(found[0]):
            raise BeamAssertException(f"streams holding a finished step's output: {found}")
    return check


def _run_big_step(pipeline: beam.Pipeline, held_ok) -> None:
    with pipeline as p:
        big = p | beam.Create([0]) | "Big" >> beam.FlatMap(lambda _: [b"x" * 1024] * (BIG // 1024 + 64))
        # The shuffle ends the big step's bundle; the count runs in a bundle of a later step.
        held = big | beam.Reshuffle() | beam.combiners.Count.Globally() | "Held" >> beam.Map(_held_buffers)
        assert_that(held, _check(held_ok))


def test_beam_alone_keeps_a_finished_steps_output_buffer(monkeypatch):
    """What new_pipeline is for, and proof that the count sees such a buffer."""
    monkeypatch.setattr(bundle_processor.DataOutputOperation, "finish", BEAMS_OWN_FINISH)
    _run_big_step(beam.Pipeline(options=DIRECT), lambda held: held >= 1)


def test_a_finished_steps_output_buffer_is_freed():
    _run_big_step(new_pipeline(DIRECT), lambda held: held == 0)


def _live_processors(_) -> int:
    gc.collect()
    return sum(type(o) is bundle_processor.BundleProcessor for o in gc.get_objects())


def _run_many_steps(pipeline: beam.Pipeline, steps: int, count_ok) -> None:
    with pipeline as p:
        pcoll = p | beam.Create([0])
        for n in range(steps):  # each shuffle ends a fused step: one bundle processor each
            pcoll = pcoll | f"Step{n}" >> beam.Map(lambda x: x + 1) | f"Shuffle{n}" >> beam.Reshuffle()
        assert_that(pcoll | "Live" >> beam.Map(_live_processors), _check(count_ok))


def test_beam_alone_caches_a_processor_per_step(monkeypatch):
    monkeypatch.setattr(sdk_worker.BundleProcessorCache, "release", BEAMS_OWN_RELEASE)
    _run_many_steps(beam.Pipeline(options=DIRECT), 3 * KEPT_PROCESSORS, lambda live: live > 3 * KEPT_PROCESSORS)


def test_processors_of_earlier_steps_are_let_go():
    _run_many_steps(new_pipeline(DIRECT), 3 * KEPT_PROCESSORS, lambda live: live <= KEPT_PROCESSORS + 1)
