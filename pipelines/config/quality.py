"""Config section for the audio-text scores; the decision thresholds are the quality stage's own
settings (transforms/quality/decide.py: Decisions), embedded as the `quality` section."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from tunescribe.pipelines.config.base import Section


class ClapConfig(Section):
    """The audio-text model that scores captions (a CLAP dual encoder: hub id or local folder)."""

    model: str
    revision: Optional[str] = None
    device: str = "cpu"
    batch_size: int = Field(8, ge=1)
