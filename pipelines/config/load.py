"""The whole build config, read from YAML: validated, with relative paths resolved against the config file."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Optional

import yaml
from pydantic import Field, ValidationError, model_validator

from tunescribe.pipelines.config.base import ConfigError, Section, resolve_model_path, resolve_path
from tunescribe.pipelines.config.caption_models import resolve_model_paths
from tunescribe.pipelines.config.inputs import Input, ManifestInput
from tunescribe.pipelines.config.output import ResourcesConfig, ShardsConfig, SplitConfig
from tunescribe.pipelines.config.quality import ClapConfig
from tunescribe.pipelines.config.stages import AttributesConfig, CaptionsConfig, TaggingConfig
from tunescribe.transforms.audio.settings import AudioSettings, SegmentSettings, StatsSettings
from tunescribe.transforms.corpus.settings import ErrorRatioGuard
from tunescribe.transforms.ingest.settings import RemoteOptions, YoutubeOptions
from tunescribe.transforms.quality.settings import Decisions


class BuildConfig(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # shard prefix: no dots or slashes
    output: str
    inputs: list[Input] = Field(min_length=1)
    audio: AudioSettings = AudioSettings()
    segment: SegmentSettings = SegmentSettings()
    stats: StatsSettings = StatsSettings()
    attributes: AttributesConfig = AttributesConfig()
    tagging: TaggingConfig = TaggingConfig()
    captions: CaptionsConfig = CaptionsConfig()
    quality: Decisions = Decisions()
    clap: Optional[ClapConfig] = None  # audio-text scores for the caption rules; none: no such stat
    split: SplitConfig = SplitConfig()
    shards: ShardsConfig = ShardsConfig()
    resources: ResourcesConfig = ResourcesConfig()
    remote: RemoteOptions = RemoteOptions()
    youtube: YoutubeOptions = YoutubeOptions()
    errors: ErrorRatioGuard = ErrorRatioGuard()

    @model_validator(mode="after")
    def _hop(self):
        if self.segment.hop_s is not None and self.segment.hop_s > self.segment.window_s:
            raise ValueError("segment.hop_s larger than window_s would skip audio between clips")
        return self

    def config_hash(self) -> str:
        """Hash of everything that shapes the corpus (not where it is written)."""
        data = self.model_dump(mode="json", exclude={"output", "resources", "errors"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


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
        update = {"path": resolve_path(i.path, base), "allowed_roots": [resolve_path(r, base) for r in i.allowed_roots]}
        if isinstance(i, ManifestInput) and i.audio_root:
            update["audio_root"] = resolve_path(i.audio_root, base)
        inputs.append(i.model_copy(update=update))
    out = cfg.output if output is not None else resolve_path(cfg.output, base)

    def local(path):  # optional paths
        return path and resolve_path(path, base)

    update = {
        "inputs": inputs,
        "captions": cfg.captions.model_copy(update={"models": resolve_model_paths(cfg.captions.models, base)}),
        "remote": cfg.remote.model_copy(update={"temp_dir": local(cfg.remote.temp_dir)}),
        "youtube": cfg.youtube.model_copy(update={k: local(getattr(cfg.youtube, k)) for k in ("cookies", "ffmpeg")}),
        "quality": cfg.quality.model_copy(update={"decontaminate": tuple(
            e.model_copy(update={"path": resolve_path(e.path, base), "audio_root": local(e.audio_root)})
            for e in cfg.quality.decontaminate)}),
        "tagging": cfg.tagging.model_copy(update={"model": cfg.tagging.model and resolve_model_path(cfg.tagging.model, base)}),
        "split": cfg.split.resolved(base),
        "output": os.path.abspath(out) if "://" not in out else out,
    }
    if cfg.clap:
        update["clap"] = cfg.clap.model_copy(update={"model": resolve_model_path(cfg.clap.model, base)})
    return cfg.model_copy(update=update)


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
