"""What every config section shares: strict models (unknown keys are errors) and the error type."""

from __future__ import annotations

import os

from tunescribe.transforms.settings import Settings


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


# A config section is the same kind of object as a stage's settings, which the config embeds.
Section = Settings


def resolve_path(path: str, base: str) -> str:
    """A path from the config, relative to the config file's folder `base` (URLs stay as they are)."""
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def resolve_model_path(model: str, base: str) -> str:
    """A model named in the config: a local one (under `~`, absolute, ./ or ../, a .gguf file, or a
    folder next to the config) as an absolute path; anything else is a hub id and stays."""
    model = os.path.expanduser(model)
    if "://" in model or os.path.isabs(model):
        return model
    local = os.path.normpath(os.path.join(base, model))
    # a .gguf is always a file path (a hub GGUF is `model: org/name` plus `gguf_file`)
    if model.startswith(("./", "../")) or model.endswith(".gguf") or os.path.isdir(local):
        return local
    return model
