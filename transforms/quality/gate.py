"""The clip rules: cheap threshold rules over stats already stored on the clip.

Changing a threshold never needs the audio again. The decisions (decide.py) reject a clip failing
any rule with the first failing reason; the detail lists every rule it failed.
"""

from __future__ import annotations

from pydantic import Field

from tunescribe.schemas import Clip
from tunescribe.transforms.settings import Settings


class QualityThresholds(Settings):
    """The clip rules' thresholds: the first settings of the config's `quality` section (settings.py)."""

    min_duration_s: float = Field(3.0, ge=0)
    max_silence_ratio: float = Field(0.9, ge=0, le=1)
    require_caption: bool = True


def check_clip(clip: Clip, t: QualityThresholds) -> list[tuple[str, str]]:
    """All failed rules as (reason, detail); empty when the clip passes."""
    failures = []
    duration = clip.stats.get("duration_s", clip.duration_s)
    if duration < t.min_duration_s:
        failures.append(("too_short", f"{duration:.2f} s < min_duration_s {t.min_duration_s}"))
    silence = clip.stats.get("silence_ratio")
    if silence is not None and silence > t.max_silence_ratio:
        failures.append(("too_silent", f"silence_ratio {silence:.3f} > max_silence_ratio {t.max_silence_ratio}"))
    if t.require_caption and not any(c.text.strip() for c in clip.captions):
        failures.append(("no_caption", "no non-empty caption"))
    return failures

