"""Config section for the audio-text scores; the decision thresholds are the quality stage's own
settings (transforms/quality/decide.py: Decisions), embedded as the `quality` section."""

from __future__ import annotations

from pydantic import Field

from tunescribe.transforms.models.settings import ModelSource


class ClapConfig(ModelSource):
    """The audio-text model that scores captions (a CLAP dual encoder: hub id or local folder)."""

    batch_size: int = Field(8, ge=1)
