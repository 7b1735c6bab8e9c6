"""The audio stages' settings, embedded by the build config as its `audio`, `segment` and `stats`
sections. Kept apart from the stages, which import Beam: reading a config must not."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from tunescribe.transforms.settings import Settings


class AudioSettings(Settings):
    """What the decoder makes of each source (decode.py) and how clips are stored (encode.py)."""

    sample_rate: int = Field(48000, ge=8000, le=192000)
    channels: Literal[1, 2] = 1
    format: Literal["flac", "flac24", "wav"] = "flac"
    max_source_s: float = Field(3600.0, gt=0)  # longer sources are rejected (too_long)


class SegmentSettings(Settings):
    """How a source is cut into clips (segment.py)."""

    window_s: float = Field(10.0, gt=0)
    hop_s: Optional[float] = Field(None, gt=0)  # default: window_s (no overlap)
    tail: Literal["keep", "pad", "drop"] = "keep"
    min_tail_s: float = Field(2.0, ge=0)


class StatsSettings(Settings):
    """The measured audio stats (stats.py)."""

    silence_dbfs: float = Field(-60.0, lt=0)
    frame_s: float = Field(0.05, gt=0)
    clip_level: float = Field(0.999, gt=0, le=1)
    speech: bool = True  # speech share from Silero VAD (MIT, ONNX from the silero-vad wheel): the costliest stat
    speech_threshold: float = Field(0.5, gt=0, lt=1)
