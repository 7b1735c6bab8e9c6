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

from tunescribe.schemas import Clip, DecodedAudio, Provenance, SourceItem
from tunescribe.schemas.layout import clip_key
from tunescribe.transforms.audio.decode import DecodeAudio
from tunescribe.transforms.audio.settings import SegmentSettings


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


def cut_stream(blocks, rate: int, window_s: float, hop_s: float, tail: str, min_tail_s: float):
    """(start, end, pcm) of each window of audio that arrives as (channels, n) blocks: the same
    windows as `window_bounds` over the whole, each handed out as soon as its audio is in, so
    only about one window of the source is held at a time (not the source)."""
    win, hop = int(round(window_s * rate)), int(round(hop_s * rate))
    parts, held, base = [], 0, 0  # blocks not yet cut, their frames, the frame parts[0] starts at
    start, channels = 0, None  # the next full window's first frame
    for block in blocks:
        channels = block.shape[0]
        parts.append(block)
        held += block.shape[1]
        while base + held >= start + win:
            buf = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
            lo = start - base
            yield start, start + win, buf[:, lo:lo + win]
            start += hop
            drop = min(start - base, buf.shape[1])  # frames before the next window are done with
            parts, held, base = [buf[:, drop:]], buf.shape[1] - drop, base + drop
    if channels is None:
        return
    buf = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    n = base + held
    done = start // hop if start else 0  # full windows handed out already
    for lo, hi in window_bounds(n, rate, window_s, hop_s, tail, min_tail_s)[done:]:
        pcm = buf[:, lo - base:min(hi, n) - base]
        if hi > n:
            pcm = np.pad(pcm, ((0, 0), (0, hi - n)))
        yield lo, hi, pcm


def make_clip(item: SourceItem, provenance: Provenance, index: int, lo: int, hi: int, rate: int,
              pcm: np.ndarray, offset_s: float) -> Clip:
    return Clip(
        key=clip_key(item.key, index),
        source_id=item.source_id,
        clip_index=index,
        start_s=offset_s + lo / rate,
        end_s=offset_s + hi / rate,
        sample_rate=rate,
        channels=pcm.shape[0],
        provenance=provenance,
        track_id=item.track_id,
        artist_id=item.artist_id,
        album_id=item.album_id,
        licence=item.licence,
        tags=item.tags,
        captions=item.captions,
        samples=pcm,
    )


class SegmentClips(beam.DoFn):
    """DecodedAudio -> Clip per window (with its PCM; encoding happens after the quality gate)."""

    def __init__(self, segment: SegmentSettings = SegmentSettings(), tool_version: str = "", config_hash: str = ""):
        self.window_s, self.hop_s = segment.window_s, segment.hop_s or segment.window_s
        self.tail, self.min_tail_s = segment.tail, segment.min_tail_s
        self.tool_version, self.config_hash = tool_version, config_hash

    def provenance(self, item: SourceItem) -> Provenance:
        return Provenance(input_uri=item.input_uri, source_uri=item.uri,
                          tool_version=self.tool_version, config_hash=self.config_hash)

    def process(self, audio: DecodedAudio):
        item, rate, samples = audio.item, audio.sample_rate, audio.samples
        provenance = self.provenance(item)
        bounds = window_bounds(samples.shape[1], rate, self.window_s, self.hop_s, self.tail, self.min_tail_s)
        for index, (lo, hi) in enumerate(bounds):
            pcm = samples[:, lo:hi]  # a view: the source's PCM is not copied per clip
            if hi > samples.shape[1]:
                pcm = np.pad(pcm, ((0, 0), (0, hi - samples.shape[1])))
            yield make_clip(item, provenance, index, lo, hi, rate, pcm, audio.offset_s)


class DecodeAndCut(beam.DoFn):
    """SourceItem -> its clips, decoded and cut in one pass (DecodeAudio, then SegmentClips's
    windows, as the audio comes): a long source never sits in memory whole. A source found bad
    late (e.g. truncated, known at its end) raises after some clips were made; the per-item chain
    (transforms/per_item.py) then takes back everything they gave."""

    def __init__(self, decode: DecodeAudio, cut: SegmentClips):
        self.decode, self.cut = decode, cut

    def process(self, item: SourceItem):
        rate, c = self.decode.sample_rate, self.cut
        provenance = c.provenance(item)
        windows = cut_stream(self.decode.blocks(item), rate, c.window_s, c.hop_s, c.tail, c.min_tail_s)
        for index, (lo, hi, pcm) in enumerate(windows):
            yield make_clip(item, provenance, index, lo, hi, rate, pcm, item.start_s or 0.0)
