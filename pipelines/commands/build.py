"""`tunescribe build CONFIG [--output DIR] [Beam pipeline options...]`: build a corpus."""

from __future__ import annotations

import json
import logging
import os
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from tunescribe.pipelines.build import CLIPS_DIR, REJECTS_FILE, SHARDS_DIR, STATS_FILE, build_pipeline
from tunescribe.pipelines.config import BuildConfig, ConfigError, check_inputs, load_config

log = logging.getLogger("tunescribe")

HELP = "build a corpus from a YAML config"


def add_arguments(parser) -> None:
    parser.epilog = "Other options (--runner, --direct_num_workers, ...) go to Apache Beam."
    parser.add_argument("config")
    parser.add_argument("--output", help="output folder (overrides the config's `output`)")


def prepare_output(out: str) -> None:
    """Clears the files a previous build of this corpus wrote, so none of them can linger.

    Refuses a non-empty folder that is not a tunescribe corpus: a typo in `output` must not
    mix a corpus into (or delete from) someone's other files."""
    if "://" in out or not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ConfigError(f"output {out} exists and is not a folder")
    entries = set(os.listdir(out))
    ours = {SHARDS_DIR, CLIPS_DIR, REJECTS_FILE, STATS_FILE}
    if entries and STATS_FILE not in entries and not entries <= ours:
        raise ConfigError(f"output {out} is a non-empty folder that is not a tunescribe corpus; "
                          "choose an empty or new folder")
    stale = [m.path for d in (SHARDS_DIR, CLIPS_DIR) if os.path.isdir(os.path.join(out, d))
             for m in FileSystems.match([os.path.join(out, d, "*")])[0].metadata_list]
    stale += [os.path.join(out, f) for f in (REJECTS_FILE, STATS_FILE) if os.path.exists(os.path.join(out, f))]
    if stale:
        FileSystems.delete(stale)


def run_build(cfg: BuildConfig, beam_args: list[str]) -> dict:
    """Runs the build and returns the run stats (also in <output>/stats.json)."""
    check_inputs(cfg)
    prepare_output(cfg.output)
    options = PipelineOptions(beam_args)
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, cfg)
    with FileSystems.open(f"{cfg.output.rstrip('/')}/{STATS_FILE}") as f:
        return json.load(f)


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


def run(args, beam_args: list[str]) -> int:
    cfg = load_config(args.config, args.output)
    started = time.monotonic()
    stats = run_build(cfg, beam_args)
    print(summary(stats, time.monotonic() - started))
    return 0
