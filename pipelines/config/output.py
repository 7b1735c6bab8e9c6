"""Config sections for the corpus output and the run: splits, shards, resource hints. (The error
guard's `errors` section is its own settings type: transforms/corpus/settings.py.)"""

from __future__ import annotations

import re
from typing import Literal, Optional, Union

from pydantic import ByteSize, Field, field_validator, model_validator

from tunescribe.pipelines.config.base import ConfigError, Section, resolve_path

_GroupField = Literal["artist_id", "album_id", "track_id", "source_id"]
_IdLists = dict[_GroupField, Union[list[str], str]]  # field -> ids, or a file of ids (one a line)


class SplitConfig(Section):
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
            path = resolve_path(value, base)
            try:
                with open(path, encoding="utf-8") as f:
                    return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
            except OSError as exc:
                raise ConfigError(f"split.{field}: cannot read id list {path}: {exc.strerror}") from None
        return self.model_copy(update={
            name: {k: ids(f"{name}.{k}", v) for k, v in getattr(self, name).items()} for name in ("force_test", "exclude")})


class ShardsConfig(Section):
    max_samples: int = Field(10000, ge=1)
    max_bytes: ByteSize = Field(512 * 2**20, ge=10240)  # also "512MiB", "1GB"


class ResourcesConfig(Section):
    """Beam resource hints for the model stages: RunInference on a local model not pinned to CPU.
    Runners that honour hints (Dataflow) give those stages workers to match; others ignore them.
    Where a stage runs does not change the corpus, so this is not in the config hash."""

    accelerator: Optional[str] = None  # e.g. "type:nvidia-l4;count:1;install-nvidia-driver"
    min_ram: Optional[str] = None  # per worker, e.g. "16GB"
    # Processes that run the per-item audio stages at once (transforms/workers.py). None: every
    # core where the runner gives the build one process (the DirectRunner's default), else 1.
    workers: Optional[int] = Field(None, ge=1)

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
