"""What a build needs of the runner it is sent to, checked before any work starts.

Workers of a Dataflow job are other machines: a local input or output path there names a folder
on the worker (or nothing), so the build would read nothing or write a corpus that vanishes with
the worker. Such a config is refused up front, naming the key. Flink and Spark clusters may share
a filesystem with the submitting machine (NFS, a local cluster), so their paths are not judged.
"""

from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.runners.worker import bundle_processor, sdk_worker

from tunescribe.pipelines.config import BuildConfig, ConfigError, ManifestInput

# Runners whose workers never see the submitting machine's files.
REMOTE_WORKER_RUNNERS = ("DataflowRunner",)


def runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    return runner if isinstance(runner, str) else type(runner).__name__


def local_paths(cfg: BuildConfig) -> list[tuple[str, str]]:
    """(config key, path) for every path the workers read or write that is not a filesystem URL."""
    found = [] if "://" in cfg.output else [("output", cfg.output)]
    for n, spec in enumerate(cfg.inputs):
        if "://" not in spec.path:
            found.append((f"inputs[{n}].path", spec.path))
        root = spec.audio_root if isinstance(spec, ManifestInput) else None
        if root and "://" not in root:
            found.append((f"inputs[{n}].audio_root", root))
    # Read by each worker when it starts fetching (ffmpeg and temp_dir are the worker's own).
    if cfg.youtube.cookies and "://" not in cfg.youtube.cookies:
        found.append(("youtube.cookies", cfg.youtube.cookies))
    return found


def check_paths_for_runner(cfg: BuildConfig, options: PipelineOptions) -> None:
    runner = runner_name(options)
    if runner not in REMOTE_WORKER_RUNNERS:
        return
    found = local_paths(cfg)
    if found:
        listed = "\n".join(f"  {key}: {path}" for key, path in found)
        raise ConfigError(f"{runner} workers cannot reach local paths; use gs:// (or another Beam filesystem "
                          f"URL) for:\n{listed}")


def audio_workers(cfg: BuildConfig, options: PipelineOptions) -> int:
    """How many processes run the per-item audio stages (`resources.workers`). By default every
    core, on the DirectRunner in its one-process mode: the pool is then what uses the cores. Where
    the runner already runs a worker per core (Beam's multi-process or multi-thread modes,
    Dataflow, Flink, Spark), one, so the two do not fight over the same cores."""
    if cfg.resources.workers:
        return cfg.resources.workers
    direct = options.view_as(DirectOptions)
    if runner_name(options) not in ("DirectRunner", "direct") or direct.direct_num_workers != 1:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def new_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline whose in-process SDK worker (the DirectRunner's) lets go of finished steps.

    Beam's worker keeps, for the whole run, two things a batch build's ~110 fused steps never use
    again (measured on the 1-worker build of 3.6 h of audio, benchmarks/audio_path.py):
    - each step's last output stream, and with it a malloc'd buffer as large as the step's output
      (up to Beam's 10 MB flush size): 150 MiB of the 718 MiB peak, growing with the corpus;
    - each step's bundle processor (its DoFns, coders, counters), cached for a next bundle:
      30-50 MiB.
    The next bundle of a step sets a stream of its own, so nothing reads the old one once it is
    closed; and the worker now keeps the processors of its last `KEPT_PROCESSORS` steps only."""
    if not getattr(bundle_processor.DataOutputOperation.finish, "tunescribe", False):
        _release_finished_streams()
        _bound_processor_cache()
    return beam.Pipeline(options=options)


KEPT_PROCESSORS = 8  # steps whose bundle processors stay cached: a step's bundles run close together


def _release_finished_streams() -> None:
    beams_finish = bundle_processor.DataOutputOperation.finish

    def finish(self) -> None:
        beams_finish(self)
        self.output_stream = None

    finish.tunescribe = True
    bundle_processor.DataOutputOperation.finish = finish


def _bound_processor_cache() -> None:
    beams_release = sdk_worker.BundleProcessorCache.release

    def release(self, instruction_id: str) -> None:
        beams_release(self, instruction_id)  # resets the processor and caches it
        with self._lock:
            idle = sorted(self.last_access_times, key=self.last_access_times.get)[:-KEPT_PROCESSORS]
            for descriptor_id in idle:
                del self.last_access_times[descriptor_id]
        for descriptor_id in idle:  # as Beam's own idle timeout does it, outside the lock
            self._shutdown_cached_bundle_processors(self.cached_bundle_processors.pop(descriptor_id, []))

    sdk_worker.BundleProcessorCache.release = release
