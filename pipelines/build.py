"""The corpus build, top-down as the data flows:

inputs -> source items -> [skip what the resume ledger settled] -> decode -> clips -> stats -> captions
       -> quality gate -> split -> encode -> [commit to the ledger, add what it restored]
       -> WebDataset shards + clip table;   every reject on the way -> rejects table;   -> stats.json
       -> wids indexes, dataset card, HTML report, SHA256SUMS -> manifest.json (last)
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version

import apache_beam as beam

from tunescribe.pipelines.caption_models import check_caption_models
from tunescribe.pipelines.captioners import build_captioners
from tunescribe.pipelines.config import BuildConfig, FolderInput
from tunescribe.pipelines.corpus import write_corpus
from tunescribe.pipelines.music import analyse_music
from tunescribe.pipelines.quality import quality_stats
from tunescribe.pipelines.resources import request_model_resources
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.encode import EncodeAudio
from tunescribe.transforms.audio.segment import SegmentClips
from tunescribe.transforms.audio.stats import ComputeAudioStats
from tunescribe.transforms.captions.estimate import EstimateCaptions
from tunescribe.transforms.captions.model_captions import ModelCaptions
from tunescribe.transforms.captions.offline import OfflineCaptioner
from tunescribe.transforms.corpus.split import AssignSplit, ForcedTestGroups
from tunescribe.transforms.ingest.dedup import DropDuplicateSources
from tunescribe.transforms.ingest.folder import AUDIO_EXTENSIONS, ListAudioFolder
from tunescribe.transforms.ingest.fetch import FetchAudio
from tunescribe.transforms.ingest.manifest import ParseManifestRow, ReadManifest
from tunescribe.transforms.ingest.remote import RemoteOptions
from tunescribe.transforms.ingest.roots import KeepInsideRoots
from tunescribe.transforms.ingest.youtube import YoutubeOptions
from tunescribe.schemas import CLIP_SCHEMA_VERSION, REJECT_SCHEMA_VERSION
from tunescribe.transforms.sinks.compact import CompactLedger
from tunescribe.transforms.sinks.layout import PROGRESS_FILE, SHARDS_DIR, WORK_DIR
from tunescribe.transforms.sinks.ledger import LEDGER_VERSION, Ledger, ListOutputs, SkipCommitted, commit_and_restore
from tunescribe.transforms.sinks.progress import WriteRunTotals
from tunescribe.transforms.stage import RunStage

LEDGERS_DIR = f"{WORK_DIR}/ledger"  # one folder per config fingerprint


def tool_version() -> str:
    try:
        return version("tunescribe")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def ledger_dir(cfg: BuildConfig) -> str:
    """The resume ledger of this config: another config, tool or schema version starts afresh."""
    key = [cfg.config_hash(), tool_version(), CLIP_SCHEMA_VERSION, REJECT_SCHEMA_VERSION, LEDGER_VERSION]
    return f"{cfg.output.rstrip('/')}/{LEDGERS_DIR}/{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]}"


def read_inputs(p: beam.Pipeline, cfg: BuildConfig):
    """Every configured input -> (SourceItems, rejects)."""
    items, rejects = [], []
    for n, spec in enumerate(cfg.inputs):
        if isinstance(spec, FolderInput):
            exts = tuple(spec.extensions) if spec.extensions else AUDIO_EXTENSIONS
            listed = p | f"Folder{n}" >> ListAudioFolder(spec.path, n, spec.licence, exts)
            roots = [spec.path]
        else:
            fmt, columns = spec.reading()
            rows, bad_manifest = (
                p | f"Manifest{n}" >> beam.Create([spec.path])
                | f"ReadManifest{n}" >> RunStage("ingest", ReadManifest(fmt), partial=True)
            )
            audio_root = spec.audio_root or spec.path.rsplit("/", 1)[0]
            listed, bad_rows = rows | f"ParseRows{n}" >> RunStage(
                "ingest", ParseManifestRow(columns, audio_root, n, spec.licence, cfg.youtube.url_template))
            rejects += [bad_manifest, bad_rows]
            roots = [audio_root]
        # Local audio only from inside the input's roots (transforms/ingest/roots.py).
        inside, outside = listed | f"InsideRoots{n}" >> RunStage(
            "ingest", KeepInsideRoots([*roots, *spec.allowed_roots]))
        items.append(inside)
        rejects.append(outside)
    return items | "AllItems" >> beam.Flatten(), rejects


def build_pipeline(p: beam.Pipeline, cfg: BuildConfig, estimate_path: str | None = None) -> None:
    """The corpus build; with `estimate_path`, a dry run that stops before the model captions and
    writes what they would ask (requests, tokens, cost) there instead."""
    out = cfg.output.rstrip("/")
    provenance = {"tool_version": tool_version(), "config_hash": cfg.config_hash()}

    listed, rejects = read_inputs(p, cfg)
    unique, duplicates = listed | "DropDuplicateSources" >> DropDuplicateSources()
    # Resume: items the ledger settled in an earlier run are restored, not processed again; the
    # per-item stages below see only `items`, the rest. Their outcomes are committed after encode.
    ledger = Ledger(ledger_dir(cfg))
    restored = unique | "SkipCommitted" >> SkipCommitted(ledger, f"{out}/{SHARDS_DIR}")
    items = restored.todo
    if estimate_path is None:  # the progress line's totals; items go on once they are written
        items = (items, unique) | "WriteRunTotals" >> WriteRunTotals(f"{out}/{PROGRESS_FILE}")
    remote = RemoteOptions(**cfg.remote.model_dump(exclude={"temp_dir"}))
    fetched, bad_fetch = items | "FetchAudio" >> RunStage(
        "fetch", FetchAudio(remote, YoutubeOptions(**cfg.youtube.model_dump()), cfg.remote.temp_dir))
    decoded, bad_audio = fetched | "DecodeAudio" >> RunStage(
        "decode", DecodeAudio(cfg.audio.sample_rate, cfg.audio.channels, cfg.audio.max_source_s))
    seg = cfg.segment
    clips, bad_segment = decoded | "SegmentClips" >> RunStage(
        "segment", ListOutputs(SegmentClips(seg.window_s, seg.hop_s or seg.window_s, seg.tail, seg.min_tail_s,
                                            **provenance), ledger))
    measured, bad_stats = clips | "AudioStats" >> RunStage(
        "stats", ComputeAudioStats(cfg.stats.silence_dbfs, cfg.stats.frame_s, cfg.stats.clip_level,
                                   cfg.stats.speech, cfg.stats.speech_threshold))
    measured, bad_music = analyse_music(measured, cfg)  # attributes, audio tags
    captioners = build_captioners(cfg.captions.models)
    check_caption_models(cfg.captions.models, need_keys=estimate_path is None)
    if estimate_path is not None:
        measured | "EstimateCaptions" >> EstimateCaptions(
            [c for c, _ in captioners], [cost for _, cost in captioners], estimate_path)
        return
    captioned, bad_captions = measured, []
    offline = cfg.captions.offline()
    if offline:
        captioned, bad_captions = measured | "TemplateCaptions" >> RunStage(
            "captions", OfflineCaptioner(offline.tasks, offline.seed, offline.min_confidence))
        bad_captions = [bad_captions]
    for n, (captioner, _) in enumerate(captioners):
        captioned, bad = captioned | f"ModelCaptions{n}_{captioner.name}" >> ModelCaptions(captioner)
        bad_captions.append(bad)
    # Quality stats are computed here, once, per clip; the decisions on them come after the ledger.
    passed, failed_quality = quality_stats(captioned, cfg)
    sp = cfg.split
    forced = unique | "ForcedTestGroups" >> ForcedTestGroups(sp.force_test, sp.group_by)
    assigned, bad_split = passed | "AssignSplit" >> RunStage(
        "split", AssignSplit(sp.ratios, sp.group_by, sp.exclude), side_inputs={"forced": beam.pvalue.AsSingleton(forced)})
    accepted, bad_encode = assigned | "EncodeAudio" >> RunStage("encode", EncodeAudio(cfg.audio.format))

    # Per-item work ends here: its outcomes (and the stage counts) are committed to the ledger, and
    # merged with those restored from it. Stages that decide across items go after this point.
    stage_rejects = [bad_fetch, bad_audio, bad_segment, bad_stats, *bad_music, *bad_captions, *failed_quality,
                     bad_split, bad_encode]
    stage_counts = {
        "fetched": fetched, "decoded": decoded, "clips": clips, "measured": measured,
        "captioned": captioned, "encoded": accepted,
    }
    candidates, stage_rejects, stage_counts, commits = commit_and_restore(
        ledger, restored, accepted, stage_rejects, stage_counts)
    # Threshold rules, decontamination and dedup (cheap decisions over stored stats, across items),
    # then everything written: the part `tunescribe filter` shares.
    stage_counts = {"listed": listed, "unique": unique, **stage_counts}
    ingested = (listed, *rejects) | "Ingested" >> beam.Flatten()
    shard_rows, manifest = write_corpus(p, cfg, candidates, [*rejects, duplicates, stage_rejects], stage_counts,
                                        ingested, provenance)
    p | "CompactLedger" >> CompactLedger(ledger, unique, shard_rows, after=(commits, manifest))
    # GPU (and RAM) hints on the steps that run a model, for runners that place work by them.
    request_model_resources(p, cfg.resources.hints())
