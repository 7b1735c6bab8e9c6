"""The end of every corpus: the quality decisions over the candidates, then everything written.

candidates -> DecideQuality -> WebDataset shards + clip table; rejects table; stats.json;
           -> the dropped-captions table (every caption the decisions took off, with its rule)
           -> the stats store (.tunescribe/candidates/); wids indexes, card, report,
              SHA256SUMS -> manifest.json (last) -> the audio store pruned to the candidates' audio

`tunescribe build` feeds it the candidates it just made (and the rejects and stage counts of the
stages before); `tunescribe filter` feeds it a built corpus's stored candidates, its rejects
before the decisions and its stage counts from stats.json. One code path, so a re-filtered
corpus is byte for byte the corpus a full rebuild with the new thresholds writes.
"""

from __future__ import annotations

import hashlib
import json

import apache_beam as beam
from apache_beam.transforms.util import WaitOn

from tunescribe.pipelines.config import BuildConfig
from tunescribe.schemas.layout import (
    CLIPS_DIR,
    COMMITTED_SHARDS_DIR,
    DROPPED_CAPTIONS_FILE,
    REJECTS_FILE,
    SHARDS_DIR,
    STATS_FILE,
    WORK_DIR,
)
from tunescribe.transforms.audio.store import AudioStore, PruneAudioStore
from tunescribe.transforms.corpus.accounting import SummariseRun
from tunescribe.transforms.corpus.guard import CheckErrorRatios
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, WriteCandidates
from tunescribe.transforms.quality.decide import DecideQuality
from tunescribe.transforms.sinks.finish import FinishCorpus
from tunescribe.transforms.sinks.parquet import WriteClipTable, WriteDroppedCaptionTable, WriteRejectTable
from tunescribe.transforms.sinks.stats import WriteRunStats
from tunescribe.transforms.sinks.webdataset import SHARD_FACTS, WriteWebDataset

# The stages counted after the decisions (the others come from before them).
DECIDED_STAGES = ("passed_quality", "accepted")
# What the candidates store records of the config that made its clips (see clip_config_hash).
MAKER_HASH_KEY = "tunescribe.clip_config_hash"
# Sections that only decide about clips or lay them out, never change one: `tunescribe filter`
# honours new values of these; any other change needs a rebuild.
FILTER_SECTIONS = {"output", "resources", "quality", "shards", "name", "errors"}


def clip_config_hash(cfg: BuildConfig) -> str:
    """Hash of the config sections that make the candidate clips (all but FILTER_SECTIONS)."""
    data = cfg.model_dump(mode="json", exclude=FILTER_SECTIONS)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def corpus_settings(cfg: BuildConfig) -> dict:
    """What the dataset card tells about the processing."""
    return cfg.model_dump(mode="json", include={"inputs", "audio", "segment", "quality", "split", "shards"})


def write_corpus(p: beam.Pipeline, cfg: BuildConfig, candidates, rejects: list, stage_counts: dict, ingested,
                 run_facts: dict, store: AudioStore, workers: int = 1):
    """Decides over `candidates` (clips with stats, their encoded audio in `store`) and writes the corpus.

    `rejects`: PCollections of every reject before the decisions; `stage_counts`: stage name ->
    PCollection counted (or its count); `ingested`: the ingested items (or their count);
    `run_facts`: run-level fields of stats.json (tool version, config hash); `workers`: shards
    written at once (pipelines/runners.py::audio_workers). Returns
    (shard rows, manifest path) for steps that must come after the corpus is complete."""
    out = cfg.output.rstrip("/")
    accepted, decided_rejects, dropped_captions = candidates | "DecideQuality" >> DecideQuality(cfg.quality)
    stored = candidates | "WriteCandidates" >> WriteCandidates(
        f"{out}/{WORK_DIR}/{CANDIDATES_FILE}", {MAKER_HASH_KEY: clip_config_hash(cfg)})
    all_rejects = [*rejects, *decided_rejects] | "AllRejects" >> beam.Flatten()
    stage_counts = {**stage_counts, **{name: accepted for name in DECIDED_STAGES}}

    written = accepted | "WriteWebDataset" >> WriteWebDataset(
        f"{out}/{SHARDS_DIR}", cfg.name, store, cfg.shards.max_samples, cfg.shards.max_bytes,
        commit_dir=f"{out}/{COMMITTED_SHARDS_DIR}", parallel=workers)
    shard_rows = written.rows
    tables = shard_rows | "WriteClipTable" >> WriteClipTable(f"{out}/{CLIPS_DIR}")
    rejects_file = all_rejects | "WriteRejectTable" >> WriteRejectTable(f"{out}/{REJECTS_FILE}")
    dropped_file = dropped_captions | "WriteDroppedCaptionTable" >> WriteDroppedCaptionTable(
        f"{out}/{DROPPED_CAPTIONS_FILE}")

    stats = p | "SummariseRun" >> SummariseRun(stage_counts, accepted, all_rejects, shard_rows, ingested,
                                                   dropped_captions)
    # stats.json is the last table written, after the shards and the other tables.
    stats_file = (stats | "AfterTables" >> WaitOn(tables, rejects_file, dropped_file)
                  | "WriteRunStats" >> WriteRunStats(f"{out}/{STATS_FILE}",
                                                     {"name": cfg.name, "schema": "tunescribe.stats/1", **run_facts}))
    # A stage that failed on most of its inputs stops the run here, before the corpus is finished.
    checked = (stats | "AfterStats" >> WaitOn(stats_file)
               | "CheckErrorRatios" >> CheckErrorRatios(cfg.errors, all_rejects, out))
    # Index, dataset card, report, checksums; manifest.json last: its presence means "complete".
    manifest = (written[SHARD_FACTS] | "AfterChecks" >> WaitOn(tables, rejects_file, dropped_file, stats_file, stored, checked)
                | "FinishCorpus" >> FinishCorpus(out, cfg.name, corpus_settings(cfg)))
    # The store keeps the candidates' audio (what `tunescribe filter` reads), nothing else.
    manifest | "PruneAudioStore" >> PruneAudioStore(store, candidates)
    return shard_rows, manifest
