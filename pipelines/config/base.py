"""What every config section shares: strict models (unknown keys are errors) and the error type."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict



class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*$", re.I)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*$", re.I)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(v):
    """A byte count from an int or a size string ("512MiB", "1GB")."""
    if isinstance(v, str):
        m = _SIZE.match(v)
        if not m:
            raise ValueError(f"not a size: {v!r} (e.g. 512MiB)")
        return int(float(m.group(1)) * _UNITS[(m.group(2) or "").upper()])
    return v


def resolve_path(path: str, base: str) -> str:
    """A path from the config, relative to the config file's folder `base` (URLs stay as they are)."""
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))
