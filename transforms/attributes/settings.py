"""The audio tagger's settings (tagging.py's handler takes them), without Beam: the config embeds them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunescribe.transforms.models.settings import ModelSource


class TaggerSettings(ModelSource):
    """An audio-classification model, and which of its labels become tags."""

    top_k: int = Field(10, ge=1)
    threshold: float = Field(0.1, ge=0, le=1)  # tags scoring below are not kept
    activation: Literal["auto", "sigmoid", "softmax"] = "auto"  # auto: sigmoid for multi-label models
