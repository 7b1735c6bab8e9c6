"""The corpus build, top-down as the data flows:

inputs -> source items -> [skip what the resume ledger settled]
       -> audio path, per item on every core: fetch -> decode -> clips -> stats -> attributes
          -> identity -> encode (the audio goes to the store; only records flow on)
       -> audio tags -> captions -> caption stats -> split -> [commit to the ledger, add what it restored]
       -> quality decisions -> WebDataset shards + clip table;   every reject on the way -> rejects table;
       -> stats.json -> wids indexes, dataset card, HTML report, SHA256SUMS -> manifest.json (last)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib.metadata import PackageNotFoundError, version

import apache_beam as beam
from apache_beam.transforms.util import WaitOn

from tunescribe.pipelines.config import BuildConfig, FolderInput
from tunescribe.pipelines.config.caption_models import check_caption_models
from tunescribe.pipelines.corpus import write_corpus
from tunescribe.pipelines.music_analysis import attribute_steps, tag_audio
from tunescribe.pipelines.quality import quality_stats
from tunescribe.schemas import CLIP_SCHEMA_VERSION, REJECT_SCHEMA_VERSION
from tunescribe.schemas.layout import PROGRESS_FILE, WORK_DIR
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.encode import EncodeAudio, LoadAudio, drop_audio
from tunescribe.transforms.audio.segment import DecodeAndCut, SegmentClips
from tunescribe.transforms.audio.stats import ComputeAudioStats
from tunescribe.transforms.audio.store import AUDIO_STORE_DIR, AudioStore
from tunescribe.transforms.captions.offline import OfflineCaptioner
from tunescribe.transforms.corpus.split import AssignSplit, ForcedTestGroups
from tunescribe.transforms.ingest.dedup import DropDuplicateSources
from tunescribe.transforms.ingest.fetch import FetchAudio
from tunescribe.transforms.ingest.folder import AUDIO_EXTENSIONS, ListAudioFolder
from tunescribe.transforms.ingest.manifest import ParseManifestRow, ReadManifest
from tunescribe.transforms.ingest.roots import KeepInsideRoots
from tunescribe.transforms.per_item import AudioPath, Step
from tunescribe.transforms.quality.fingerprint import ComputeAudioIdentity
from tunescribe.transforms.sinks.compact import CompactLedger
from tunescribe.transforms.sinks.ledger import LEDGER_VERSION, RECAPTION, Ledger, SkipCommitted, commit_and_restore
from tunescribe.transforms.sinks.progress import WriteRunTotals
from tunescribe.transforms.stage import RunStage

LEDGERS_DIR = f"{WORK_DIR}/ledger"  # one folder per config fingerprint
# The run stats' stage counts, in the order stats.json lists them.
STAGE_COUNTS = ("fetched", "decoded", "clips", "measured", "captioned", "encoded")


def tool_version() -> str:
    try:
        return version("tunescribe")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def audio_store(cfg: BuildConfig) -> AudioStore:
    return AudioStore(f"{cfg.output.rstrip('/')}/{WORK_DIR}/{AUDIO_STORE_DIR}")


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
                | f"ReadManifest{n}" >> RunStage("ingest", ReadManifest(fmt, spec.max_line_bytes), partial=True)
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


def audio_steps(cfg: BuildConfig, provenance: dict, tags_later: bool) -> tuple[Step, ...]:
    """The per-item stages that need the PCM, in order (transforms/per_item.py). The clips are
    counted as "measured" after the last analysis step here, unless a tagging model comes later."""
    analysis = [Step("stats", ComputeAudioStats(cfg.stats)), *attribute_steps(cfg)]
    if not tags_later:
        analysis[-1] = dataclasses.replace(analysis[-1], counted="measured")
    return (
        Step("fetch", FetchAudio(cfg.remote, cfg.youtube), "fetched"),
        # Decoded and cut in one pass: a clip's PCM at a time, whatever the source's length.
        Step("decode", DecodeAndCut(DecodeAudio(cfg.audio), SegmentClips(cfg.segment, **provenance)),
             counted="clips", lists_outputs=True, counts_input="decoded"),
        *analysis,
        Step("stats", ComputeAudioIdentity()),
        Step("encode", EncodeAudio(audio_store(cfg), cfg.audio.format), "encoded"),
    )


def keys_of(pcoll, label: str):
    return pcoll | label >> beam.Map(lambda element: element.key)


def build_pipeline(p: beam.Pipeline, cfg: BuildConfig, estimate_path: str | None = None, workers: int = 1) -> None:
    """The corpus build; with `estimate_path`, a dry run that stops before the model captions and
    writes what they would ask (requests, tokens, cost) there instead. `workers`: processes that
    run the per-item audio stages at once, and shards written at once (pipelines/runners.py::audio_workers)."""
    out = cfg.output.rstrip("/")
    provenance = {"tool_version": tool_version(), "config_hash": cfg.config_hash()}
    store = audio_store(cfg)

    listed, rejects = read_inputs(p, cfg)
    unique, duplicates = listed | "DropDuplicateSources" >> DropDuplicateSources()
    # Resume: items the ledger settled in an earlier run are restored, not processed again; the
    # per-item stages below see only `items`, the rest. Their outcomes are committed after them.
    # Committed clips whose model captions failed for a transient reason come back as Redos: they
    # pass the caption stages (and so are counted "captioned") again, for those captions only.
    ledger = Ledger(ledger_dir(cfg))
    restored = unique | "SkipCommitted" >> SkipCommitted(ledger, store, recounted=("captioned",))
    # Audio by reference: the PCM lives only inside the audio path; what leaves it is records.
    tags_later = bool(cfg.tagging.model)
    steps = audio_steps(cfg, provenance, tags_later)
    items = restored.todo
    if estimate_path is None:  # the progress line's totals; items go on once they are written
        items = (items, unique) | "WriteRunTotals" >> WriteRunTotals(f"{out}/{PROGRESS_FILE}")
    clips, bad_audio, path_counts, clip_lists = items | "AudioPath" >> AudioPath(steps, workers)
    counts = {name: path_counts | f"Keys[{name}]" >> beam.FlatMap(
        lambda name_key, name=name: [name_key[1]] if name_key[0] == name else [])
        for name in sorted({n for step in steps for n in (step.counted, step.counts_input) if n})}
    measured, bad_music = tag_audio(clips, cfg, store)
    if tags_later:
        counts["measured"] = keys_of(measured, "Keys[measured]")
    captioners = []
    if cfg.captions.models or estimate_path is not None:
        # Beam's RunInference imports torch: only a build that runs a model pays for it.
        from tunescribe.pipelines.model_captioners import build_captioners

        captioners = build_captioners(cfg.captions.models, cfg.resources.hints())
    check_caption_models(cfg.captions.models, need_keys=estimate_path is None)
    if estimate_path is not None:
        from tunescribe.transforms.captions.estimate import EstimateCaptions

        if any(c.audio for c, _ in captioners):  # audio requests are sized from the PCM
            measured = measured | "EstimateListen" >> beam.ParDo(LoadAudio(store))
        measured | "EstimateCaptions" >> EstimateCaptions(
            [c for c, _ in captioners], [cost for _, cost in captioners], estimate_path)
        return
    captioned, bad_captions = measured, []
    offline = cfg.captions.offline()
    if offline:
        captioned, bad_captions = measured | "TemplateCaptions" >> RunStage(
            "captions", OfflineCaptioner(offline))
        bad_captions = [bad_captions]
    if captioners:
        from tunescribe.transforms.captions.model_captions import InCaptionOrder, ModelCaptions
        from tunescribe.transforms.captions.redo import ForClips, on_clip

        captioned = (captioned, restored[RECAPTION]) | "WithCaptionsToRedo" >> beam.Flatten()
    for n, (captioner, _) in enumerate(captioners):
        label = f"ModelCaptions{n}_{captioner.name}"
        if captioner.audio:  # an audio captioner listens to the clip: its PCM, from the store, for that stage only
            captioned = captioned | f"{label}Listen" >> beam.ParDo(ForClips(LoadAudio(store)))
        captioned, bad = captioned | label >> ModelCaptions(captioner)
        if captioner.audio:
            captioned = captioned | f"{label}Done" >> beam.Map(on_clip, drop_audio)
        bad_captions.append(bad)
    if captioners:
        captioned = captioned | "InCaptionOrder" >> beam.ParDo(InCaptionOrder([c for c, _ in captioners]))
    counts["captioned"] = keys_of(captioned, "Keys[captioned]")
    # Quality stats are computed here, once, per clip; the decisions on them come after the ledger.
    passed, failed_quality = quality_stats(captioned, cfg, store)
    sp = cfg.split
    forced = unique | "ForcedTestGroups" >> ForcedTestGroups(sp.force_test, sp.group_by)
    assigned, bad_split = passed | "AssignSplit" >> RunStage(
        "split", AssignSplit(sp.ratios, sp.group_by, sp.exclude), side_inputs={"forced": beam.pvalue.AsSingleton(forced)})

    # Per-item work ends here: its outcomes (and the stage counts) are committed to the ledger, and
    # merged with those restored from it. Stages that decide across items go after this point.
    stage_rejects = [bad_audio, *bad_music, *bad_captions, *failed_quality, bad_split]
    candidates, stage_rejects, stage_counts, commits = commit_and_restore(
        ledger, restored, assigned, stage_rejects, {name: counts[name] for name in STAGE_COUNTS}, clip_lists)
    # Threshold rules, decontamination and dedup (cheap decisions over stored stats, across items),
    # then everything written: the part `tunescribe filter` shares.
    stage_counts = {"listed": keys_of(listed, "Keys[listed]"), "unique": keys_of(unique, "Keys[unique]"),
                    **stage_counts}
    ingested = (listed, *rejects) | "Ingested" >> beam.Flatten()
    _, manifest = write_corpus(p, cfg, candidates, [*rejects, duplicates, stage_rejects], stage_counts,
                               ingested, provenance, store, workers)
    manifest | "AfterCommits" >> WaitOn(commits) | "CompactLedger" >> CompactLedger(ledger, unique)
