"""The offline captioner's settings (offline.py), embedded by the build config as
`captions.template`. Kept apart from the captioner, which imports Beam: reading a config must not."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from tunescribe.transforms.captions.prompts import LP_MUSICCAPS_TASKS
from tunescribe.transforms.settings import Settings

# The writing caption under the task name template captions always had: what the build writes
# when models write all four tasks, so a clip whose model captions fail keeps a caption.
FALLBACK_TASK = "template"
OfflineTask = Literal[(*LP_MUSICCAPS_TASKS, FALLBACK_TASK)]


class TemplateCaptions(Settings):
    """MusicCaps-style sentences from the tags and attributes, no model, no network."""

    # null: the four LP-MusicCaps tasks; in the config, those no model there writes, and if
    # models write all four, "template" (see pipelines/config/stages.py: CaptionsConfig.offline)
    tasks: Optional[list[OfflineTask]] = None
    seed: int = Field(0, ge=0)  # picks among equivalent sentence frames; recorded in each caption
    min_confidence: float = Field(0.0, ge=0, le=1)  # measured attributes less sure than this go unsaid
