"""The corpus build, top-down as the data flows:

inputs -> source items -> decode -> clips -> stats -> captions -> quality gate -> split -> encode
       -> WebDataset shards + clip table;   every reject on the way -> rejects table;   -> stats.json
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import apache_beam as beam

from tunescribe.pipelines.config import BuildConfig, FolderInput
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.encode import EncodeAudio
from tunescribe.transforms.audio.segment import SegmentClips
from tunescribe.transforms.audio.stats import ComputeAudioStats
from tunescribe.transforms.captions.template import TemplateCaptioner
from tunescribe.transforms.corpus.accounting import SummariseRun
from tunescribe.transforms.corpus.split import AssignSplit
from tunescribe.transforms.ingest.dedup import DropDuplicateSources
from tunescribe.transforms.ingest.folder import AUDIO_EXTENSIONS, ListAudioFolder
from tunescribe.transforms.ingest.manifest import ColumnMapping, ParseManifestRow, ReadManifest
from tunescribe.transforms.quality.gate import QualityGate, QualityThresholds
from tunescribe.transforms.sinks.parquet import WriteClipTable, WriteRejectTable
from tunescribe.transforms.sinks.stats import WriteRunStats
from tunescribe.transforms.sinks.webdataset import WriteWebDataset
from tunescribe.transforms.stage import RunStage

SHARDS_DIR, CLIPS_DIR, REJECTS_FILE, STATS_FILE = "shards", "clips", "rejects.parquet", "stats.json"


def tool_version() -> str:
    try:
        return version("tunescribe")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def read_inputs(p: beam.Pipeline, cfg: BuildConfig):
    """Every configured input -> (SourceItems, rejects)."""
    items, rejects = [], []
    for n, spec in enumerate(cfg.inputs):
        if isinstance(spec, FolderInput):
            exts = tuple(spec.extensions) if spec.extensions else AUDIO_EXTENSIONS
            items.append(p | f"Folder{n}" >> ListAudioFolder(spec.path, n, spec.licence, exts))
            continue
        rows, bad_manifest = (
            p | f"Manifest{n}" >> beam.Create([spec.path])
            | f"ReadManifest{n}" >> RunStage("ingest", ReadManifest(spec.format))
        )
        audio_root = spec.audio_root or spec.path.rsplit("/", 1)[0]
        columns = ColumnMapping(**{**spec.columns.model_dump(), "tags": tuple(spec.columns.tags)})
        parsed, bad_rows = rows | f"ParseRows{n}" >> RunStage(
            "ingest", ParseManifestRow(columns, audio_root, n, spec.licence))
        items.append(parsed)
        rejects += [bad_manifest, bad_rows]
    return items | "AllItems" >> beam.Flatten(), rejects


def build_pipeline(p: beam.Pipeline, cfg: BuildConfig) -> None:
    out = cfg.output.rstrip("/")
    provenance = {"tool_version": tool_version(), "config_hash": cfg.config_hash()}

    listed, rejects = read_inputs(p, cfg)
    items, duplicates = listed | "DropDuplicateSources" >> DropDuplicateSources()
    decoded, bad_audio = items | "DecodeAudio" >> RunStage(
        "decode", DecodeAudio(cfg.audio.sample_rate, cfg.audio.channels, cfg.audio.max_source_s))
    seg = cfg.segment
    clips, bad_segment = decoded | "SegmentClips" >> RunStage(
        "segment", SegmentClips(seg.window_s, seg.hop_s or seg.window_s, seg.tail, seg.min_tail_s, **provenance))
    measured, bad_stats = clips | "AudioStats" >> RunStage(
        "stats", ComputeAudioStats(cfg.stats.silence_dbfs, cfg.stats.frame_s, cfg.stats.clip_level))
    captioned, bad_captions = measured, []
    if cfg.captions.template:
        captioned, bad_captions = measured | "TemplateCaptions" >> RunStage("captions", TemplateCaptioner())
        bad_captions = [bad_captions]
    q = cfg.quality
    passed, failed_quality = captioned | "QualityGate" >> RunStage(
        "quality", QualityGate(QualityThresholds(q.min_duration_s, q.max_silence_ratio, q.require_caption)))
    assigned, bad_split = passed | "AssignSplit" >> RunStage("split", AssignSplit(cfg.split.ratios, cfg.split.group_by))
    accepted, bad_encode = assigned | "EncodeAudio" >> RunStage("encode", EncodeAudio(cfg.audio.format))

    all_rejects = (
        rejects + [duplicates, bad_audio, bad_segment, bad_stats, *bad_captions, failed_quality, bad_split, bad_encode]
    ) | "AllRejects" >> beam.Flatten()

    shard_rows = accepted | "WriteWebDataset" >> WriteWebDataset(
        f"{out}/{SHARDS_DIR}", cfg.name, cfg.shards.max_samples, cfg.shards.max_bytes)
    tables = shard_rows | "WriteClipTable" >> WriteClipTable(f"{out}/{CLIPS_DIR}")
    rejects_file = all_rejects | "WriteRejectTable" >> WriteRejectTable(f"{out}/{REJECTS_FILE}")

    stage_counts = {
        "listed": listed, "unique": items, "decoded": decoded, "clips": clips, "measured": measured,
        "captioned": captioned, "passed_quality": passed, "accepted": accepted,
    }
    ingested = (listed, *rejects) | "Ingested" >> beam.Flatten()
    stats = p | "SummariseRun" >> SummariseRun(stage_counts, accepted, all_rejects, shard_rows, ingested)
    stats | "WriteRunStats" >> WriteRunStats(
        f"{out}/{STATS_FILE}", {"name": cfg.name, "schema": "tunescribe.stats/1", **provenance},
        after=(tables, rejects_file))
