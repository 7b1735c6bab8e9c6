"""The kind of object a stage's settings are: frozen, and strict, so the build config embeds them
as its sections (pipelines/config) and each setting is defined once, with its stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    # frozen: settings travel pickled to workers and must not change there; forbid: a misspelt
    # key in the YAML is an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)
