"""Cuts decoded audio into fixed windows: the clips of the corpus.

Windows start every `hop_s` seconds and last `window_s`. The tail — what is left after the last
full window — follows `tail`:
  - "keep": becomes a shorter clip if it lasts at least `min_tail_s` (default);
  - "pad":  is zero-padded to a full window if it lasts at least `min_tail_s`;
  - "drop": never becomes a clip.
A source shorter than one window always yields one clip of its full length, so that it is
judged (and, if too short, rejected with a reason) by the quality stage rather than vanishing.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np

from tunescribe.schemas import Clip, DecodedAudio, Provenance

TAIL_POLICIES = ("keep", "pad", "drop")


def clip_key(source_key: str, clip_index: int) -> str:
    return f"{source_key}_{clip_index:05d}"


def window_bounds(n_frames: int, rate: int, window_s: float, hop_s: float, tail: str,
                  min_tail_s: float) -> list[tuple[int, int]]:
    """(start, end) frame pairs; `end` may pass n_frames only for padded tails."""
    win, hop = int(round(window_s * rate)), int(round(hop_s * rate))
    if n_frames <= win:
        return [(0, n_frames)]
    bounds = [(s, s + win) for s in range(0, n_frames - win + 1, hop)]
    tail_start = bounds[-1][0] + hop
    if tail_start < n_frames and n_frames - tail_start >= min_tail_s * rate:
        if tail == "keep":
            bounds.append((tail_start, n_frames))
        elif tail == "pad":
            bounds.append((tail_start, tail_start + win))
    return bounds


class SegmentClips(beam.DoFn):
    """DecodedAudio -> Clip per window (with its PCM; encoding happens after the quality gate)."""

    def __init__(self, window_s: float = 10.0, hop_s: float = 10.0, tail: str = "keep",
                 min_tail_s: float = 2.0, tool_version: str = "", config_hash: str = ""):
        if tail not in TAIL_POLICIES:
            raise ValueError(f"tail must be one of {TAIL_POLICIES}, not {tail!r}")
        self.window_s, self.hop_s, self.tail, self.min_tail_s = window_s, hop_s, tail, min_tail_s
        self.tool_version, self.config_hash = tool_version, config_hash

    def process(self, audio: DecodedAudio):
        item, rate, samples = audio.item, audio.sample_rate, audio.samples
        n = samples.shape[1]
        provenance = Provenance(input_uri=item.input_uri, source_uri=item.uri,
                                tool_version=self.tool_version, config_hash=self.config_hash)
        bounds = window_bounds(n, rate, self.window_s, self.hop_s, self.tail, self.min_tail_s)
        for index, (lo, hi) in enumerate(bounds):
            pcm = samples[:, lo:hi]  # a view: the source's PCM is not copied per clip
            if hi > n:
                pcm = np.pad(pcm, ((0, 0), (0, hi - n)))
            yield Clip(
                key=clip_key(item.key, index),
                source_id=item.source_id,
                clip_index=index,
                start_s=audio.offset_s + lo / rate,
                end_s=audio.offset_s + hi / rate,
                sample_rate=rate,
                channels=samples.shape[0],
                provenance=provenance,
                track_id=item.track_id,
                artist_id=item.artist_id,
                album_id=item.album_id,
                licence=item.licence,
                tags=item.tags,
                captions=item.captions,
                samples=pcm,
            )
