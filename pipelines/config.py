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


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Manifest column names for each field; only `path` is required."""

    path: str = "path"
    id: Optional[str] = None
    track: Optional[str] = None
    artist: Optional[str] = None
    album: Optional[str] = None
    tags: list[str] = []
    licence: Optional[str] = None
    start: Optional[str] = None
    end: Optional[str] = None
    tag_separator: str = ","

    @field_validator("tags", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v


class ManifestInput(_Strict):
    type: Literal["manifest"]
    path: str
    format: Optional[Literal["csv", "tsv", "jsonl"]] = None  # default: from the file extension
    audio_root: Optional[str] = None  # relative audio paths are under this; default: manifest's folder
    columns: Columns = Columns()
    licence: Optional[str] = None  # for rows without a licence column/value


class FolderInput(_Strict):
    type: Literal["folder"]
    path: str
    extensions: Optional[list[str]] = None  # default: common audio extensions
    licence: Optional[str] = None


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


class CaptionsConfig(_Strict):
    template: bool = True


class QualityConfig(_Strict):
    min_duration_s: float = Field(3.0, ge=0)
    max_silence_ratio: float = Field(0.9, ge=0, le=1)
    require_caption: bool = True


class SplitConfig(_Strict):
    ratios: dict[str, float] = {"train": 0.9, "valid": 0.05, "test": 0.05}
    group_by: Literal["artist_id", "album_id", "track_id", "source_id"] = "artist_id"

    @field_validator("ratios")
    @classmethod
    def _positive(cls, v):
        if not v or any(r < 0 for r in v.values()) or sum(v.values()) <= 0:
            raise ValueError("ratios must be >= 0 and sum to more than 0")
        return v


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


class BuildConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # shard prefix: no dots or slashes
    output: str
    inputs: list[Input] = Field(min_length=1)
    audio: AudioConfig = AudioConfig()
    segment: SegmentConfig = SegmentConfig()
    stats: StatsConfig = StatsConfig()
    captions: CaptionsConfig = CaptionsConfig()
    quality: QualityConfig = QualityConfig()
    split: SplitConfig = SplitConfig()
    shards: ShardsConfig = ShardsConfig()

    @model_validator(mode="after")
    def _hop(self):
        if self.segment.hop_s is not None and self.segment.hop_s > self.segment.window_s:
            raise ValueError("segment.hop_s larger than window_s would skip audio between clips")
        return self

    def config_hash(self) -> str:
        """Hash of everything that shapes the corpus (not where it is written)."""
        data = self.model_dump(mode="json", exclude={"output"})
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
        update = {"path": _resolve(i.path, base)}
        if isinstance(i, ManifestInput) and i.audio_root:
            update["audio_root"] = _resolve(i.audio_root, base)
        inputs.append(i.model_copy(update=update))
    out = cfg.output if output is not None else _resolve(cfg.output, base)
    return cfg.model_copy(update={"inputs": inputs, "output": os.path.abspath(out) if "://" not in out else out})


def check_inputs(cfg: BuildConfig) -> None:
    """Local inputs must exist before the run starts (remote ones are checked by the readers)."""
    for n, i in enumerate(cfg.inputs):
        if "://" in i.path:
            continue
        ok = os.path.isfile(i.path) if isinstance(i, ManifestInput) else os.path.isdir(i.path)
        if not ok:
            raise ConfigError(f"inputs[{n}]: no {'file' if isinstance(i, ManifestInput) else 'folder'} at {i.path}")
