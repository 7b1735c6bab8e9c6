"""Records that flow between stages before a clip exists: an ingested source and its decoded audio."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Optional

import numpy as np

from tunescribe.schemas.clip import Caption
from tunescribe.schemas.tags import Tag


def source_key(source_id: str, start_s: Optional[float], end_s: Optional[float]) -> str:
    """Stable key of one source item: a hash of its id and time range.

    Hex only, so it is safe as a WebDataset key (no dots, no slashes) and as a file name.
    """
    span = f"{'' if start_s is None else repr(float(start_s))}:{'' if end_s is None else repr(float(end_s))}"
    return hashlib.sha1(f"{source_id}\x00{span}".encode("utf-8")).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class SourceItem:
    """One ingested item: a piece of audio to fetch plus what the manifest says about it."""

    source_id: str
    uri: str  # where the audio is (local path or URL)
    input_uri: str  # the manifest or folder it came from
    order: tuple  # (input index, row number): decides which of two duplicate items is kept
    track_id: Optional[str] = None
    artist_id: Optional[str] = None
    album_id: Optional[str] = None
    tags: tuple[Tag, ...] = ()
    licence: Optional[str] = None
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    # Captions the input gives (e.g. MusicCaps' human caption, task "reference"); clips inherit them.
    captions: tuple[Caption, ...] = ()
    # Set by the fetch stage for remote audio: a local copy to decode (temporary: the decoder
    # removes it once read), and where in the source that copy begins (a section download of
    # [start_s, end_s) begins at start_s). None for audio the decoder opens at `uri` itself.
    fetched: Optional[str] = None
    fetched_offset_s: float = 0.0

    @property
    def key(self) -> str:
        return source_key(self.source_id, self.start_s, self.end_s)

    @property
    def clip_index(self) -> None:
        return None


@dataclasses.dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A source's audio, decoded and resampled: float32 samples shaped (channels, frames)."""

    item: SourceItem
    samples: np.ndarray
    sample_rate: int
    # Start of `samples` within the original file, so clip times refer to the file.
    offset_s: float = 0.0

    source_id = property(lambda self: self.item.source_id)
    key = property(lambda self: self.item.key)
    input_uri = property(lambda self: self.item.input_uri)
    clip_index = property(lambda self: None)

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate
