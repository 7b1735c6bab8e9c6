"""`tunescribe build CONFIG [--output DIR] [Beam pipeline options...]`: build a corpus."""

from __future__ import annotations

import argparse
import logging
import os
import time

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from tunescribe.pipelines.build import LEDGERS_DIR, build_pipeline, ledger_dir
from tunescribe.pipelines.commands.known_stops import run_or_stop
from tunescribe.pipelines.config import BuildConfig, ConfigError, check_inputs, load_config
from tunescribe.pipelines.progress import progress_shown
from tunescribe.pipelines.runners import audio_workers, check_paths_for_runner, new_pipeline
from tunescribe.schemas.layout import (
    CARD_FILE,
    CHECKSUMS_FILE,
    CLIPS_DIR,
    MANIFEST_FILE,
    PROGRESS_FILE,
    REJECTS_FILE,
    REPORT_FILE,
    SHARDS_DIR,
    STATS_FILE,
    WIDS_SUFFIX,
    WORK_DIR,
)
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.sinks.files import TMP_MARK, list_files

log = logging.getLogger("tunescribe")

def add_arguments(parser) -> None:
    parser.epilog = "Other options (--runner, --direct_num_workers, ...) go to Apache Beam."
    parser.add_argument("config")
    parser.add_argument("--output", help="output folder (overrides the config's `output`)")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="processes for the per-item audio stages (overrides `resources.workers`; "
                             "default: every core on the DirectRunner)")
    parser.add_argument("--progress-every", type=seconds, default=30, metavar="SECONDS",
                        help="off a terminal, print the progress line this often (default 30; 0: no progress "
                             "line); on a terminal it is one live line")


def seconds(text: str) -> float:
    """A number of seconds, 0 or more (argparse names the type in its message: `invalid seconds value`)."""
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


def prepare_output(cfg: BuildConfig) -> None:
    """Readies the output folder for this build, keeping everything a rerun can reuse.

    A rerun of the same config resumes: the ledger (.tunescribe/) lets it skip finished items and
    committed shards; files that end up not part of the new corpus are removed when it finishes.
    Here, before any work: manifest.json goes first (until this build writes a new one, the folder
    is not a complete corpus), then the ledgers of other configs (their work cannot be reused) and
    temp files of killed runs. Refuses a non-empty folder that is not a tunescribe corpus: a typo in
    `output` must not mix a corpus into (or delete from) someone's other files. Works through
    Beam's FileSystems, so gs:// and s3:// outputs resume like local ones."""
    out = cfg.output.rstrip("/")
    if "://" not in out and os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"output {out} exists and is not a folder")
    found = [path for path, _ in list_files(f"{out}/**")]
    if not found:
        return
    tops = {path[len(out) + 1:].split("/", 1)[0].split(TMP_MARK, 1)[0] for path in found}
    ours = {SHARDS_DIR, CLIPS_DIR, REJECTS_FILE, STATS_FILE, CARD_FILE, REPORT_FILE, CHECKSUMS_FILE,
            MANIFEST_FILE, WORK_DIR}
    foreign = {t for t in tops if t not in ours and not t.endswith(WIDS_SUFFIX)}
    if foreign and not tops & {MANIFEST_FILE, STATS_FILE, WORK_DIR}:
        raise ConfigError(f"output {out} is a non-empty folder that is not a tunescribe corpus "
                          f"(it holds {', '.join(sorted(foreign)[:3])}); choose an empty or new folder")
    keep = ledger_dir(cfg) + "/"
    stale = [path for path in found if path in (f"{out}/{MANIFEST_FILE}", f"{out}/{PROGRESS_FILE}")
             or TMP_MARK in path.rsplit("/", 1)[-1]
             or path.startswith(f"{out}/{LEDGERS_DIR}/") and not path.startswith(keep)]
    if stale:
        FileSystems.delete(stale)


def run_build(cfg: BuildConfig, beam_args: list[str], progress_every: float = 0) -> dict | None:
    """Runs the build and returns the run stats (also in <output>/stats.json). With `progress_every`
    (seconds), shows the progress line on stderr while it runs (pipelines/progress.py)."""
    options = PipelineOptions(beam_args)
    check_inputs(cfg)
    check_paths_for_runner(cfg, options)
    p = new_pipeline(options)
    build_pipeline(p, cfg, workers=audio_workers(cfg, options))
    if options.view_as(TestOptions).dry_run:  # the runner makes the job and runs nothing: no output, stats or metrics
        p.run()
        return None
    prepare_output(cfg)
    totals = f"{cfg.output.rstrip('/')}/{PROGRESS_FILE}"
    with progress_shown(ledger_dir(cfg), totals, progress_every):
        result = p.run()
        result.wait_until_finish()
    if FileSystems.exists(totals):  # this run's alone: a finished corpus is the same bytes without it
        FileSystems.delete([totals])
    for counter, what in (("items_restored", "restored from the ledger of an earlier run"),
                          ("items_recaptioned", "restored to ask again for captions that failed for now")):
        if counted := result.metrics().query(MetricsFilter().with_name(counter))["counters"]:
            log.info("resumed: %d source item(s) %s", sum(c.committed or c.attempted or 0 for c in counted), what)
    return readers.read_json(f"{cfg.output.rstrip('/')}/{STATS_FILE}")


def summary(stats: dict, wall_s: float) -> str:
    s, rej = stats["sources"], stats["rejects"]
    lines = [
        f"tunescribe: built corpus '{stats['name']}' in {wall_s:.1f} s",
        f"  sources  {s['ingested']} ingested = {s['accepted']} accepted + {s['rejected']} rejected",
        f"  clips    {stats['stages']['clips']} cut, {stats['stages']['accepted']} accepted "
        f"in {stats['shards']['count']} shard(s)",
        f"  rejects  {rej['total']}" + "".join(f"\n    {n:6d}  {r}" for r, n in rej["by_reason"].items()),
    ]
    return "\n".join(lines)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return int(text)


def with_workers(cfg: BuildConfig, workers) -> BuildConfig:
    if not workers:
        return cfg
    return cfg.model_copy(update={"resources": cfg.resources.model_copy(update={"workers": workers})})


def run(args, beam_args: list[str]) -> int:
    cfg = with_workers(load_config(args.config, args.output), args.workers)
    started = time.monotonic()
    every = 0 if getattr(args, "quiet", False) else args.progress_every
    code, stats = run_or_stop(lambda: run_build(cfg, beam_args, every), cfg.output)
    if code == 0:
        print(summary(stats, time.monotonic() - started) if stats else
              f"tunescribe: dry run: the job for corpus '{cfg.name}' was made and not submitted; {cfg.output} untouched")
    return code
