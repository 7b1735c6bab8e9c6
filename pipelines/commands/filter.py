"""`tunescribe filter CORPUS CONFIG [--output DIR] [--dry-run]`: re-decide a built corpus with new thresholds.

Reads the stats store (`<corpus>/.tunescribe/candidates/`: every clip that reached the quality
decisions, with all its stats; their encoded audio is in the corpus's audio store) and applies the
config's `quality` section to it — no source is read, no audio decoded, no model run. The new
corpus gets its own copy of the candidates' audio, so it can be re-filtered in turn.

  --dry-run  prints how many clips each rule would drop, the captions it would drop (per rule, per
             model and task, as stats.json and dropped_captions.parquet would count them, with a
             sample of their text) and histograms of the stats;
  otherwise  writes a new corpus to the config's `output` (or --output) through the build's own
             finishing steps (pipelines/corpus.py), so it is byte for byte what a full rebuild
             with the new config writes. Rejects before the decisions and the stage counts come
             from the source corpus; the decisions' rejects are made anew.

The config may differ from the one that built the corpus only in the sections a filter can
honour (`quality`, `shards`, `name`, `output`, `resources`, `errors`); anything else changes the clips
themselves and needs `tunescribe build`. The source corpus is never written to.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

from tunescribe.pipelines.build import audio_store, tool_version
from tunescribe.pipelines.commands.build import prepare_output, summary
from tunescribe.pipelines.commands.known_stops import run_or_stop
from tunescribe.pipelines.config import BuildConfig, ConfigError, load_config
from tunescribe.pipelines.corpus import DECIDED_STAGES, FILTER_SECTIONS, MAKER_HASH_KEY, clip_config_hash, write_corpus
from tunescribe.pipelines.runners import audio_workers, new_pipeline
from tunescribe.schemas import Clip, Reject, layout
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.quality.candidates import (
    CANDIDATES_FILE,
    META_FILE,
    candidate_files,
    candidates_metadata,
    read_candidates,
)
from tunescribe.transforms.quality.decide import DECISION_STAGES, Decisions, decide_in_process
from tunescribe.transforms.quality.rules import caption_failures


def add_arguments(parser) -> None:
    parser.epilog = "Other options (--runner, --direct_num_workers, ...) go to Apache Beam."
    parser.add_argument("corpus", help="a corpus folder written by `tunescribe build` (read only)")
    parser.add_argument("config", help="config whose `quality` section holds the new thresholds")
    parser.add_argument("--output", help="where to write the re-filtered corpus (overrides the config's `output`)")
    parser.add_argument("--dry-run", action="store_true", help="only print what each rule would drop")
    parser.add_argument("--bins", type=int, default=10, help="histogram bins")


def histogram(values, bins: int) -> list[str]:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if values.size == 0:
        return ["    (no values)"]
    counts, edges = np.histogram(values, bins=bins)
    top = max(counts.max(), 1)
    return [f"    {lo:10.3g} .. {hi:<10.3g} {n:7d} {'#' * int(round(40 * n / top))}"
            for lo, hi, n in zip(edges[:-1], edges[1:], counts)]


DRY_RUN_SAMPLES = 3  # dropped captions quoted per rule


def report(clips, d: Decisions, bins: int) -> str:
    accepted, rejects, dropped = decide_in_process(clips, d)
    rule_clips, rule_captions = Counter(), Counter()
    for clip in clips:
        for caption in clip.captions:
            for reason in {r for r, _ in caption_failures(caption, clip, d.captions)}:
                rule_captions[reason] += 1
    for r in rejects:
        rule_clips[f"{r.stage}/{r.reason}"] += 1
    lines = [f"tunescribe filter (dry run): {len(clips)} candidate clips -> {len(accepted)} accepted, "
             f"{len(rejects)} rejected", "  clips dropped, by first reason:"]
    lines += [f"    {n:7d}  {r}" for r, n in sorted(rule_clips.items())] or ["    (none)"]
    lines.append(f"  captions dropped: {len(dropped)}, by first reason (as dropped_captions.parquet would hold them):")
    by_reason = Counter(f"{c.stage}/{c.reason}" for c in dropped)
    lines += [f"    {n:7d}  {r}" for r, n in sorted(by_reason.items())] or ["    (none)"]
    lines.append("  captions dropped, by backend:model/task:")
    lines += [f"    {n:7d}  {m}" for m, n in sorted(Counter(f"{c.model}/{c.task}" for c in dropped).items())] \
        or ["    (none)"]
    for reason in sorted(by_reason):
        lines.append(f"  dropped for {reason}, e.g.:")
        lines += [f"    {c.key} #{c.caption_index} ({c.model}/{c.task}): {' '.join(c.text.split())[:160]!r}"
                  for c in [c for c in dropped if f"{c.stage}/{c.reason}" == reason][:DRY_RUN_SAMPLES]]
    lines.append("  captions failing each caption rule (a caption may fail several):")
    lines += [f"    {n:7d}  {r}" for r, n in sorted(rule_captions.items())] or ["    (none)"]
    clip_stats = sorted({k for c in clips for k, v in c.stats.items() if isinstance(v, (int, float))})
    cap_stats = sorted({k for c in clips for cap in c.captions for k, v in cap.stats.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
    for name in clip_stats:
        lines += [f"  clip stat {name}:"] + histogram([c.stats.get(name) for c in clips], bins)
    for name in cap_stats:
        lines += [f"  caption stat {name}:"] + histogram(
            [cap.stats.get(name) for c in clips for cap in c.captions], bins)
    return "\n".join(lines)


def _same_place(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(a) == os.path.realpath(b)


def check_filterable(corpus: str, cfg: BuildConfig) -> None:
    """Refuses, before any work, what a re-filter cannot do right."""
    store = layout.join(corpus, layout.WORK_DIR, CANDIDATES_FILE)
    if not readers.exists(layout.join(corpus, layout.MANIFEST_FILE)):
        raise ConfigError(f"{corpus} is not a complete corpus (no {layout.MANIFEST_FILE}): finish its build first")
    if _same_place(corpus, cfg.output):
        raise ConfigError(f"filter writes a new corpus and never overwrites its source {corpus}: "
                          "give another --output (or `output` in the config)")
    made_by = candidates_metadata(store).get(MAKER_HASH_KEY)
    if made_by is None:
        raise ConfigError(f"{store} does not say which config made its clips: rebuild the corpus with this version")
    if made_by != clip_config_hash(cfg):
        raise ConfigError(f"config '{cfg.name}' differs from the config that built {corpus} in more than "
                          f"{', '.join(sorted(FILTER_SECTIONS))}: those changes make other clips, so run "
                          "`tunescribe build` with it instead")


def stamped(clip: Clip, config_hash: str) -> Clip:
    """The clip as a build with this config would have made it: only the config hash differs
    (check_filterable made sure every section that makes clips is the same)."""
    return dataclasses.replace(clip, provenance=dataclasses.replace(clip.provenance, config_hash=config_hash))


class CopyAudio(beam.DoFn):
    """Copies a clip's audio from one store to another (once: same bytes, same name)."""

    def __init__(self, source: AudioStore, target: AudioStore):
        self.source, self.target = source, target

    def process(self, clip: Clip):
        if not self.target.has(clip.audio_sha256, clip.audio_format):
            self.target.put(self.source.get(clip.audio_sha256, clip.audio_format), clip.audio_format)
        yield clip


def filter_pipeline(p: beam.Pipeline, corpus: str, cfg: BuildConfig, workers: int = 1) -> None:
    """Stored candidates + the corpus's rejects before the decisions -> the corpus of `cfg`."""
    before = readers.read_json(layout.join(corpus, layout.STATS_FILE))
    source_cfg = cfg.model_copy(update={"output": corpus})
    candidates = (
        p
        | "CandidateFiles" >> beam.Create(candidate_files(layout.join(corpus, layout.WORK_DIR, CANDIDATES_FILE)))
        | "ReadCandidates" >> beam.io.ReadAllFromParquet()
        | "ToClip" >> beam.Map(Clip.from_row)
        | "Stamp" >> beam.Map(stamped, cfg.config_hash())
        | "CopyAudio" >> beam.ParDo(CopyAudio(audio_store(source_cfg), audio_store(cfg)))
    )
    undecided = (
        p
        | "ReadRejects" >> beam.io.ReadFromParquet(layout.join(corpus, layout.REJECTS_FILE))
        | "ToReject" >> beam.Map(Reject.from_row)
        | "BeforeDecisions" >> beam.Filter(lambda r: r.stage not in DECISION_STAGES)
    )
    stage_counts = {name: n for name, n in before["stages"].items() if name not in DECIDED_STAGES}
    write_corpus(p, cfg, candidates, [undecided], stage_counts, before["sources"]["ingested"],
                 {"tool_version": tool_version(), "config_hash": cfg.config_hash()}, audio_store(cfg), workers)


def run_filter(corpus: str, cfg: BuildConfig, beam_args: list[str]) -> dict:
    """Writes the re-filtered corpus; returns its run stats (also in <output>/stats.json)."""
    corpus = corpus.rstrip("/")
    check_filterable(corpus, cfg)
    prepare_output(cfg)
    options = PipelineOptions(beam_args)
    p = new_pipeline(options)
    filter_pipeline(p, corpus, cfg, audio_workers(cfg, options))
    p.run().wait_until_finish()
    return readers.read_json(layout.join(cfg.output, layout.STATS_FILE))


def run(args, beam_args) -> int:
    store = layout.join(args.corpus, layout.WORK_DIR, CANDIDATES_FILE)
    if not readers.exists(layout.join(store, META_FILE)):
        raise ConfigError(f"{args.corpus} has no stats store ({store}): build it with this version first")
    cfg = load_config(args.config, args.output)
    if args.dry_run:
        print(report(read_candidates(store), cfg.quality, args.bins))
        return 0
    started = time.monotonic()
    code, stats = run_or_stop(lambda: run_filter(args.corpus, cfg, beam_args), cfg.output)
    if code == 0:
        print(summary(stats, time.monotonic() - started).replace("built corpus", "re-filtered corpus", 1))
    return code
