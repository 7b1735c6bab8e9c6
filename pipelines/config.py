"""The build config: a YAML file validated with pydantic before any work starts.

Unknown keys and bad values are errors with the path of the offending key. Relative paths are
read relative to the config file's folder, so a config and its data can move together.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Annotated, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tunescribe.pipelines.caption_models import CaptionModels, resolve_model_paths


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Manifest column names for each field; a row needs a `path` or a `youtube_id`.

    With a `preset`, the fields given here replace the preset's (see transforms/ingest/presets.py)."""

    path: Optional[str] = "path"
    id: Optional[str] = None
    track: Optional[str] = None
    artist: Optional[str] = None
    album: Optional[str] = None
    tags: list[str] = []
    licence: Optional[str] = None
    start: Optional[str] = None
    end: Optional[str] = None
    tag_separator: str = ","
    youtube_id: Optional[str] = None  # video ids, fetched with yt-dlp from youtube.url_template
    captions: list[str] = []  # human-written captions, kept as reference captions
    tag_flags: list[str] = []  # 0/1 tag-matrix columns ("*": every column not mapped above)
    trailing_tags: bool = False  # cells past the header's last one are tags (MTG-Jamendo)

    @field_validator("tags", "captions", "tag_flags", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v


class ManifestInput(_Strict):
    type: Literal["manifest"]
    path: str
    preset: Optional[Literal["musiccaps", "mtg-jamendo", "magnatagatune", "generic"]] = None
    format: Optional[Literal["csv", "tsv", "jsonl", "parquet"]] = None  # default: preset's, else extension
    audio_root: Optional[str] = None  # relative audio paths are under this; default: manifest's folder
    columns: Columns = Columns()
    licence: Optional[str] = None  # for rows without a licence column/value
    # Local audio must resolve (symlinks followed) inside audio_root or one of these folders, else
    # the row is rejected (path_outside_roots): a manifest cannot make the build read other files.
    allowed_roots: list[str] = []

    @model_validator(mode="after")
    def _has_audio_column(self):
        if self.preset is None and not (self.columns.path or self.columns.youtube_id):
            raise ValueError("columns: set `path` or `youtube_id` (the column that locates each row's audio)")
        return self

    def reading(self):
        """(format, ColumnMapping) for the reader: the preset's, with the given columns in place."""
        from tunescribe.transforms.ingest.presets import preset_mapping

        given = self.columns.model_dump(exclude_unset=self.preset is not None)
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
        fmt, columns = preset_mapping(self.preset or "generic", given)
        return self.format or fmt, columns


class FolderInput(_Strict):
    type: Literal["folder"]
    path: str
    extensions: Optional[list[str]] = None  # default: common audio extensions
    licence: Optional[str] = None
    allowed_roots: list[str] = []  # where symlinks in the folder may point (default: only inside it)


Input = Annotated[Union[ManifestInput, FolderInput], Field(discriminator="type")]


class AudioConfig(_Strict):
    sample_rate: int = Field(48000, ge=8000, le=192000)
    channels: Literal[1, 2] = 1
    format: Literal["flac", "flac24", "wav"] = "flac"
    max_source_s: float = Field(3600.0, gt=0)  # longer sources are rejected (too_long)


class SegmentConfig(_Strict):
    window_s: float = Field(10.0, gt=0)
    hop_s: Optional[float] = Field(None, gt=0)  # default: window_s (no overlap)
    tail: Literal["keep", "pad", "drop"] = "keep"
    min_tail_s: float = Field(2.0, ge=0)


class StatsConfig(_Strict):
    silence_dbfs: float = Field(-60.0, lt=0)
    frame_s: float = Field(0.05, gt=0)
    clip_level: float = Field(0.999, gt=0, le=1)
    speech: bool = True  # speech share from Silero VAD (MIT, ONNX from the silero-vad wheel): the costliest stat
    speech_threshold: float = Field(0.5, gt=0, lt=1)


class AttributesConfig(_Strict):
    """Tempo, key and meter measured from the audio; `extractors: []` switches them off."""

    # librosa: ISC, the default. essentia: AGPL-3.0, optional (`pip install essentia`), off by default.
    extractors: list[Literal["librosa", "essentia"]] = ["librosa"]
    key_profile: Literal["albrecht", "krumhansl", "temperley"] = "albrecht"  # librosa's key profiles


class TaggingConfig(_Strict):
    """An audio-classification model (Hugging Face) whose labels become scored tags; off unless `model` is set."""

    model: Optional[str] = None  # hub id or local folder (relative to the config file)
    revision: Optional[str] = None
    device: str = "cpu"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    local_files_only: bool = False
    top_k: int = Field(10, ge=1)
    threshold: float = Field(0.1, ge=0, le=1)  # tags scoring below are not kept
    activation: Literal["auto", "sigmoid", "softmax"] = "auto"  # auto: sigmoid for multi-label models
    batch_size: int = Field(8, ge=1)

    def resolved(self, base: str) -> "TaggingConfig":
        if not self.model or os.path.isabs(self.model):
            return self
        candidate = os.path.normpath(os.path.join(base, self.model))
        if self.model.startswith(("./", "../")) or os.path.isdir(candidate):
            return self.model_copy(update={"model": candidate})
        return self


OfflineTask = Literal["writing", "summary", "paraphrase", "attribute_prediction", "template"]


class TemplateCaptionsConfig(_Strict):
    """The offline captioner (transforms/captions/offline.py): MusicCaps-style sentences from the
    tags and attributes, no model, no network."""

    # null: the four LP-MusicCaps tasks no model here writes; if models write all four, "template"
    # (the writing caption under task "template", so a clip whose model captions fail keeps one)
    tasks: Optional[list[OfflineTask]] = None
    seed: int = Field(0, ge=0)  # picks among equivalent sentence frames; recorded in each caption
    min_confidence: float = Field(0.0, ge=0, le=1)  # measured attributes less sure than this go unsaid


class CaptionsConfig(_Strict):
    template: Union[bool, TemplateCaptionsConfig] = True  # true: the offline captioner as below; false: off
    models: CaptionModels = []  # model captioners, run after the template; see caption_models.py

    def offline(self) -> Optional[TemplateCaptionsConfig]:
        """The offline captioner's settings with its tasks resolved; None when it writes nothing."""
        if self.template is False:
            return None
        settings = TemplateCaptionsConfig() if self.template is True else self.template
        if settings.tasks is None:  # a task a model writes is left to the model
            taken = {task for model in self.models for task in getattr(model, "tasks", ())}
            free = [t for t in OfflineTask.__args__[:4] if t not in taken]
            settings = settings.model_copy(update={"tasks": free or ["template"]})
        return settings if settings.tasks else None


class CaptionRulesConfig(_Strict):
    """Thresholds over each caption's stored stats (transforms/quality/rules.py); null = rule off."""

    min_words: int = Field(4, ge=0)
    max_words: int = Field(250, ge=1)
    languages: list[str] = ["en"]  # empty: any language
    min_language_prob: float = Field(0.4, ge=0, le=1)
    max_repetition: Optional[float] = Field(0.2, ge=0, le=1)
    max_longest_run: Optional[int] = Field(3, ge=1)
    max_refusals: Optional[int] = Field(0, ge=0)
    max_meta_text: Optional[int] = Field(0, ge=0)
    max_probability_leaks: Optional[int] = Field(0, ge=0)
    max_label_leaks: Optional[int] = Field(0, ge=0)
    max_title_leaks: Optional[int] = Field(0, ge=0)
    reject_non_music: bool = True
    max_unsupported_instruments: Optional[int] = Field(0, ge=0)
    voice_stats: list[str] = ["vocal_ratio", "singing_ratio", "speech_ratio"]
    max_voice_share: Optional[float] = Field(0.02, ge=0, le=1)
    tempo_attribute: str = "tempo"
    tempo_tolerance: Optional[float] = Field(0.08, ge=0)
    slow_max_bpm: float = Field(95.0, gt=0)
    fast_min_bpm: float = Field(115.0, gt=0)
    key_attribute: str = "key"
    key_allow_relative: Optional[bool] = True
    min_clap: Optional[float] = None
    clap_margin: Optional[float] = 0.0


class DedupConfig(_Strict):
    """Duplicate clips (transforms/quality/dedup.py); decided after the per-clip rules."""

    exact_audio: bool = True
    max_ber: Optional[float] = Field(0.1, ge=0, le=0.5)  # near-duplicate audio; null = off
    min_overlap_s: float = Field(5.0, gt=0)
    min_coverage: float = Field(0.5, gt=0, le=1)
    max_bucket: int = Field(200, ge=2)
    caption_jaccard: Optional[float] = Field(None, gt=0, le=1)  # near-duplicate captions; null = off
    num_perm: int = Field(128, ge=16)


class EvalSetConfig(_Strict):
    """An evaluation set to keep out of the corpus: a CSV/TSV/JSONL manifest or a .txt id list."""

    name: str
    path: str
    id_column: str = "id"
    where: dict[str, str] = {}  # keep only rows whose column has this value, e.g. {is_audioset_eval: "True"}
    audio_column: Optional[str] = None  # audio paths to fingerprint, for matching by audio
    audio_root: Optional[str] = None


class QualityConfig(_Strict):
    """Every decision threshold: `tunescribe filter` re-applies a changed section to a built corpus."""

    min_duration_s: float = Field(3.0, ge=0)
    max_silence_ratio: float = Field(0.9, ge=0, le=1)
    require_caption: bool = True
    captions: CaptionRulesConfig = CaptionRulesConfig()
    dedup: DedupConfig = DedupConfig()
    decontaminate: list[EvalSetConfig] = []


class ClapConfig(_Strict):
    """The audio-text model that scores captions (a CLAP dual encoder: hub id or local folder)."""

    model: str
    revision: Optional[str] = None
    device: str = "cpu"
    batch_size: int = Field(8, ge=1)


_GroupField = Literal["artist_id", "album_id", "track_id", "source_id"]
_IdLists = dict[_GroupField, Union[list[str], str]]  # field -> ids, or a file of ids (one a line)


class SplitConfig(_Strict):
    ratios: dict[str, float] = {"train": 0.9, "valid": 0.05, "test": 0.05}
    group_by: _GroupField = "artist_id"
    force_test: _IdLists = {}  # held out for evaluation: the whole group of each listed item goes to test
    exclude: _IdLists = {}  # held out altogether: listed items are rejected (reason held_out)

    @field_validator("ratios")
    @classmethod
    def _positive(cls, v):
        if not v or any(r < 0 for r in v.values()) or sum(v.values()) <= 0:
            raise ValueError("ratios must be >= 0 and sum to more than 0")
        bad = [name for name in v if not re.fullmatch(r"[a-z0-9_]+", name)]
        if bad:
            raise ValueError(f"split names go into shard file names: use a-z, 0-9 and _ only, not {bad}")
        return v

    @model_validator(mode="after")
    def _test_split(self):
        if self.force_test and "test" not in self.ratios:
            raise ValueError("force_test needs a `test` split in ratios (its ratio may be 0)")
        return self

    def resolved(self, base: str) -> "SplitConfig":
        """Reads id files (relative to the config's folder), so the config and its hash hold the ids."""
        def ids(field: str, value) -> list[str]:
            if not isinstance(value, str):
                return [str(v) for v in value]
            path = _resolve(value, base)
            try:
                with open(path, encoding="utf-8") as f:
                    return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
            except OSError as exc:
                raise ConfigError(f"split.{field}: cannot read id list {path}: {exc.strerror}") from None
        return self.model_copy(update={
            name: {k: ids(f"{name}.{k}", v) for k, v in getattr(self, name).items()} for name in ("force_test", "exclude")})


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*$", re.I)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


class ShardsConfig(_Strict):
    max_samples: int = Field(10000, ge=1)
    max_bytes: int = Field(512 * 2**20, ge=10240)  # also "512MiB", "1GB"

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v):
        if isinstance(v, str):
            m = _SIZE.match(v)
            if not m:
                raise ValueError(f"not a size: {v!r} (e.g. 512MiB)")
            return int(float(m.group(1)) * _UNITS[(m.group(2) or "").upper()])
        return v


class ResourcesConfig(_Strict):
    """Beam resource hints for the model stages: RunInference on a local model not pinned to CPU.
    Runners that honour hints (Dataflow) give those stages workers to match; others ignore them.
    Where a stage runs does not change the corpus, so this is not in the config hash."""

    accelerator: Optional[str] = None  # e.g. "type:nvidia-l4;count:1;install-nvidia-driver"
    min_ram: Optional[str] = None  # per worker, e.g. "16GB"

    @field_validator("accelerator")
    @classmethod
    def _accelerator(cls, v):
        if v is None:
            return v
        parts = dict(p.partition(":")[::2] for p in v.split(";") if p.strip())
        if not parts.get("type") or not parts.get("count", "").isdigit() or int(parts["count"]) < 1:
            raise ValueError(f"not an accelerator hint: {v!r} (e.g. type:nvidia-l4;count:1;install-nvidia-driver)")
        return v

    @field_validator("min_ram")
    @classmethod
    def _size(cls, v):
        if v is not None:
            from apache_beam.transforms.resources import MinRamHint
            MinRamHint.parse(v)  # raises ValueError for a size it cannot read
        return v

    def hints(self) -> dict[str, str]:
        """As keyword arguments for Beam's `with_resource_hints`."""
        return {k: v for k, v in (("accelerator", self.accelerator), ("min_ram", self.min_ram)) if v}


def _parse_size(v):
    if isinstance(v, str):
        m = _SIZE.match(v)
        if not m:
            raise ValueError(f"not a size: {v!r} (e.g. 512MiB)")
        return int(float(m.group(1)) * _UNITS[(m.group(2) or "").upper()])
    return v


class RemoteConfig(_Strict):
    """Downloads of http(s):// and object-store audio (transforms/ingest/remote.py)."""

    timeout_s: float = Field(30.0, gt=0)  # connect timeout and longest wait for more bytes
    retries: int = Field(3, ge=0, le=20)  # further tries on timeouts, dropped connections, 5xx, 429
    backoff_s: float = Field(1.0, ge=0)  # first wait between tries, doubled each time
    max_backoff_s: float = Field(30.0, ge=0)
    max_bytes: int = Field(2**30, ge=1024)  # per download; also "200MiB"
    per_host: int = Field(4, ge=1)  # concurrent downloads per host and worker process
    min_bytes_per_s: float = Field(8192.0, ge=0)  # slower average (after timeout_s) is a slow drip: too_slow; 0: off
    temp_dir: Optional[str] = None  # where fetched audio waits for the decoder; default: system temp

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v):
        return _parse_size(v)


class ErrorsConfig(_Strict):
    """The error-ratio guard (transforms/corpus/guard.py): a stage that fails on more than this share
    of the items (or clips) entering it stops the run before the corpus is finished, with a report.
    It decides whether a corpus is finished, not what is in it, so it is not in the config hash: a
    rerun with a raised ratio reuses the stopped run's work."""

    max_error_ratio: float = Field(0.5, gt=0, le=1)  # 1: off
    min_items: int = Field(20, ge=1)  # stages that saw fewer are not judged (one bad file in a tiny run)
    per_stage: dict[str, float] = {}  # stage -> its own ratio, e.g. {captions: 0.9}

    @field_validator("per_stage")
    @classmethod
    def _stages(cls, v):
        from tunescribe.transforms.corpus.guard import JUDGED_STAGES

        bad = sorted(set(v) - set(JUDGED_STAGES))
        if bad:
            raise ValueError(f"unknown stage(s) {bad}; judged stages: {', '.join(JUDGED_STAGES)}")
        if any(not 0 < r <= 1 for r in v.values()):
            raise ValueError("each ratio must be > 0 and <= 1 (1: off for that stage)")
        return v

    def guard(self):
        from tunescribe.transforms.corpus.guard import ErrorRatioGuard

        return ErrorRatioGuard(self.max_error_ratio, self.min_items, dict(self.per_stage))


class YoutubeConfig(_Strict):
    """yt-dlp downloads: YouTube ids and any page yt-dlp reads (transforms/ingest/youtube.py)."""

    url_template: str = "https://www.youtube.com/watch?v={id}"  # video id column -> page URL
    format: str = "bestaudio/best"  # yt-dlp format selector
    sections: bool = True  # download only [start, end) of a ranged row (needs ffmpeg)
    ffmpeg: Optional[str] = None  # path to ffmpeg; default imageio-ffmpeg's, else the system's
    cookies: Optional[str] = None  # Netscape-format cookies file
    rate_limit: Optional[int] = Field(None, ge=1)  # bytes/s per download; also "2MiB"
    sleep_s: float = Field(0.0, ge=0)  # pause before each download
    max_sleep_s: Optional[float] = Field(None, ge=0)  # with sleep_s: a random pause in [sleep_s, max_sleep_s]
    sleep_requests_s: float = Field(0.0, ge=0)  # pause between the page requests of one extraction
    proxy: Optional[str] = None  # e.g. socks5://127.0.0.1:1080

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _size(cls, v):
        return _parse_size(v)

    @field_validator("url_template")
    @classmethod
    def _has_id(cls, v):
        if "{id}" not in v or "://" not in v:
            raise ValueError("must be a URL with an {id} placeholder, e.g. https://www.youtube.com/watch?v={id}")
        try:
            v.format(id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{id}} may be a placeholder ({exc})") from None
        return v

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, v):
        if v is not None and v.split("://", 1)[0] not in ("http", "https", "socks4", "socks4a", "socks5", "socks5h"):
            raise ValueError("must be an http(s):// or socks4/5:// URL")
        return v

    @model_validator(mode="after")
    def _sleeps(self):
        if self.max_sleep_s is not None and self.max_sleep_s < self.sleep_s:
            raise ValueError("max_sleep_s must be at least sleep_s")
        return self


class BuildConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # shard prefix: no dots or slashes
    output: str
    inputs: list[Input] = Field(min_length=1)
    audio: AudioConfig = AudioConfig()
    segment: SegmentConfig = SegmentConfig()
    stats: StatsConfig = StatsConfig()
    attributes: AttributesConfig = AttributesConfig()
    tagging: TaggingConfig = TaggingConfig()
    captions: CaptionsConfig = CaptionsConfig()
    quality: QualityConfig = QualityConfig()
    clap: Optional[ClapConfig] = None  # audio-text scores for the caption rules; none: no such stat
    split: SplitConfig = SplitConfig()
    shards: ShardsConfig = ShardsConfig()
    resources: ResourcesConfig = ResourcesConfig()
    remote: RemoteConfig = RemoteConfig()
    youtube: YoutubeConfig = YoutubeConfig()
    errors: ErrorsConfig = ErrorsConfig()

    @model_validator(mode="after")
    def _hop(self):
        if self.segment.hop_s is not None and self.segment.hop_s > self.segment.window_s:
            raise ValueError("segment.hop_s larger than window_s would skip audio between clips")
        return self

    def config_hash(self) -> str:
        """Hash of everything that shapes the corpus (not where it is written)."""
        data = self.model_dump(mode="json", exclude={"output", "resources", "errors"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _resolve(path: str, base: str) -> str:
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def load_config(path: str, output: Optional[str] = None) -> BuildConfig:
    """Reads, validates and resolves a YAML config; raises ConfigError with a readable message."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a YAML mapping")
    if output is not None:
        raw["output"] = output
    try:
        cfg = BuildConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"config {path} is invalid:\n" + "\n".join(lines)) from None
    base = os.path.dirname(os.path.abspath(path))
    inputs = []
    for i in cfg.inputs:
        update = {"path": _resolve(i.path, base), "allowed_roots": [_resolve(r, base) for r in i.allowed_roots]}
        if isinstance(i, ManifestInput) and i.audio_root:
            update["audio_root"] = _resolve(i.audio_root, base)
        inputs.append(i.model_copy(update=update))
    out = cfg.output if output is not None else _resolve(cfg.output, base)
    captions = cfg.captions.model_copy(update={"models": resolve_model_paths(cfg.captions.models, base)})
    fetch = {"remote": cfg.remote.model_copy(update={"temp_dir": cfg.remote.temp_dir and _resolve(cfg.remote.temp_dir, base)}),
             "youtube": cfg.youtube.model_copy(update={k: getattr(cfg.youtube, k) and _resolve(getattr(cfg.youtube, k), base)
                                                       for k in ("cookies", "ffmpeg")})}
    quality = cfg.quality.model_copy(update={"decontaminate": [
        e.model_copy(update={"path": _resolve(e.path, base), "audio_root": e.audio_root and _resolve(e.audio_root, base)})
        for e in cfg.quality.decontaminate]})
    if cfg.clap is not None and (cfg.clap.model.startswith((".", "/")) or os.path.isdir(os.path.join(base, cfg.clap.model))):
        fetch["clap"] = cfg.clap.model_copy(update={"model": _resolve(cfg.clap.model, base)})
    return cfg.model_copy(update={"inputs": inputs, "captions": captions, **fetch, "quality": quality, "tagging": cfg.tagging.resolved(base), "split": cfg.split.resolved(base),
                                  "output": os.path.abspath(out) if "://" not in out else out})


def check_inputs(cfg: BuildConfig) -> None:
    """Local inputs must exist before the run starts (remote ones are checked by the readers)."""
    for n, i in enumerate(cfg.inputs):
        for root in i.allowed_roots:
            if "://" in root or not os.path.isdir(root):
                raise ConfigError(f"inputs[{n}].allowed_roots: {root} is not a local folder")
        if "://" in i.path:
            continue
        ok = os.path.isfile(i.path) if isinstance(i, ManifestInput) else os.path.isdir(i.path)
        if not ok:
            raise ConfigError(f"inputs[{n}]: no {'file' if isinstance(i, ManifestInput) else 'folder'} at {i.path}")
    for key in ("cookies", "ffmpeg"):
        path = getattr(cfg.youtube, key)
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"youtube.{key}: no file at {path}")
