"""Decodes any audio ffmpeg reads (PyAV), mixes to the configured channels and resamples (soxr).

The whole source, or its [start_s, end_s) range, becomes one float32 array. Unreadable,
truncated, empty or over-long input is rejected with a reason; it never stops the run.
"""

from __future__ import annotations

import math
import os
from typing import BinaryIO, Optional

import apache_beam as beam
import av
import numpy as np
import soxr
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas import DecodedAudio, SourceItem
from tunescribe.transforms.audio.settings import AudioSettings
from tunescribe.transforms.stage import Rejected

# A file that decodes to less than this share of its declared length (minus a second of slack
# for estimated durations) lost its end.
TRUNCATION_RATIO = 0.8
# Input rates a music source can have. A header claiming 1 Hz would turn a 6 KB file into hours of
# 48 kHz audio once resampled (and 10 MHz is no audio format); both are refused before decoding.
MIN_INPUT_RATE, MAX_INPUT_RATE = 2000, 768000
BATCH = 65536  # input frames mixed and resampled in one go (~1.5 s at 44.1 kHz)


def lost_its_end(f: BinaryIO) -> bool:
    """True if an Ogg or WAV file was visibly cut off.

    ffmpeg decodes a cut-off Ogg or WAV file as a shorter, valid one and reports the shorter
    duration, so the declared length cannot tell. The containers can: an Ogg stream's last page
    carries an end-of-stream flag, and a RIFF header states the file's full size.
    """
    try:
        f.seek(0)
        head = f.read(12)
        size = f.seek(0, 2)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            declared = int.from_bytes(head[4:8], "little") + 8
            # 0 / 0xFFFFFFFF: a streamed WAV whose writer never came back to fill the size in
            return declared not in (8, 2**32 + 7) and size < declared
        if head[:4] != b"OggS":
            return False
        f.seek(max(0, size - 65536))
        tail = f.read()
    finally:
        f.seek(0)
    last = tail.rfind(b"OggS")
    return last < 0 or last + 5 >= len(tail) or not tail[last + 5] & 0x04


def mix(block: np.ndarray, channels: int) -> np.ndarray:
    """(in channels, n) -> (channels, n): mono is the mean, stereo from mono is a copy."""
    if block.shape[0] == channels:
        return block
    if channels == 1:
        return block.mean(axis=0, keepdims=True)
    return np.repeat(block[:1], 2, axis=0)


def _declared_duration(container, stream) -> Optional[float]:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _check_rate(rate) -> int:
    if not rate or not MIN_INPUT_RATE <= rate <= MAX_INPUT_RATE:
        raise Rejected("unsupported_sample_rate",
                       f"{rate} Hz is outside the {MIN_INPUT_RATE}-{MAX_INPUT_RATE} Hz audio can have")
    return rate


def decode_audio(source: str | BinaryIO, sample_rate: int, channels: int, *args, **kwargs) -> np.ndarray:
    """Returns float32 samples shaped (channels, frames) at `sample_rate`, or raises Rejected (the
    whole of `decode_blocks`, with its arguments)."""
    blocks = list(decode_blocks(source, sample_rate, channels, *args, **kwargs))
    return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)


def decode_blocks(
    source: str | BinaryIO,
    sample_rate: int,
    channels: int,
    start_s: Optional[float] = None,
    end_s: Optional[float] = None,
    max_seconds: float = AudioSettings().max_source_s,
):
    """The audio as it is decoded: float32 blocks shaped (channels, n) at `sample_rate`, in order.
    Raises Rejected when the source turns out bad, possibly after some blocks (a file that ends
    early is known to be truncated only at its end): a caller must not keep what came before."""
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise Rejected("not_audio", f"ffmpeg cannot read it: {exc}") from None
    with container:
        if not container.streams.audio:
            raise Rejected("no_audio_stream", "the file has no audio stream")
        stream = container.streams.audio[0]
        if not stream.channels:
            raise Rejected("bad_audio_header", "the audio stream declares 0 channels")
        _check_rate(stream.sample_rate)
        declared = _declared_duration(container, stream)
        start = start_s or 0.0
        stop = math.inf if end_s is None else end_s
        if declared is not None and start >= declared:
            raise Rejected("bad_time_range", f"start {start:.3f} s is past the end ({declared:.3f} s)")
        # A length that is unknown (streamed files) or a lie is caught while decoding, in keep().
        if math.isfinite(bound := min(stop, declared if declared is not None else math.inf) - start) and bound > max_seconds:
            raise Rejected("too_long", f"longer than the {max_seconds:.0f} s limit per source")
        if start > 0:
            container.seek(int(start * av.time_base), backward=True, any_frame=False)

        # ffmpeg mixes only sources of more than two channels (5.1 -> stereo needs its matrix);
        # mono/stereo are mixed below, so mono -> stereo keeps full level (swr would lower it 3 dB).
        to_float = av.AudioResampler(format="fltp", layout="stereo" if stream.channels > 2 else None)
        resampler = None
        in_rate = None
        pos = None  # seconds, at the start of the next converted frame
        decoded_in = 0.0  # seconds of input kept
        ready = []  # resampled (n, channels) pieces, handed out as they come
        # Kept input waits here, one list per input channel, until BATCH frames are mixed and
        # resampled at once: per-frame numpy and soxr calls cost more than the work they do
        # (a Vorbis frame is 128-1024 samples). soxr's stream gives the same samples however
        # its input is cut, and the mix is per sample, so the result does not depend on BATCH.
        pending: list[list[np.ndarray]] = []
        pending_n = 0

        def flush() -> None:
            nonlocal pending_n
            if not pending_n:
                return
            block = np.empty((len(pending), pending_n), np.float32)
            for row, parts in zip(block, pending):
                np.concatenate(parts, out=row)
                parts.clear()
            pending_n = 0
            piece = np.ascontiguousarray(mix(block, channels).T)
            ready.append(piece if resampler is None else resampler.resample_chunk(piece))

        def keep(frame, t0: float) -> tuple[bool, int]:
            """Queues one converted (fltp) frame trimmed to [start, stop); returns (whether the
            stream goes on past it, its length)."""
            nonlocal decoded_in, pending_n
            n = frame.samples
            lo = max(0, int(round((start - t0) * in_rate)))
            hi = n if math.isinf(stop) else min(n, int(round((stop - t0) * in_rate)))
            if hi > lo:
                decoded_in += (hi - lo) / in_rate
                if decoded_in > max_seconds:
                    raise Rejected("too_long", f"longer than the {max_seconds:.0f} s limit per source")
                planes = frame.planes
                if len(planes) != len(pending):  # the first frame, or the channel count changed
                    flush()
                    pending[:] = [[] for _ in planes]
                for parts, plane in zip(pending, planes):  # one plane per channel: the format is planar
                    parts.append(np.frombuffer(plane, np.float32, n)[lo:hi])
                pending_n += hi - lo
                if pending_n >= BATCH:
                    flush()
            return t0 + n / in_rate < stop, n

        try:
            for frame in container.decode(stream):
                if in_rate is None:
                    in_rate = _check_rate(frame.sample_rate)
                    if in_rate != sample_rate:
                        resampler = soxr.ResampleStream(in_rate, sample_rate, channels, dtype="float32")
                elif frame.sample_rate != in_rate:
                    raise Rejected("corrupt_audio", "sample rate changes within the stream")
                if pos is None or frame.time is not None and abs(frame.time - pos) > 0.5:
                    pos = frame.time if frame.time is not None else 0.0
                going = True
                for converted in to_float.resample(frame):
                    more, n = keep(converted, pos)
                    going = more and going
                    pos += n / in_rate
                yield from _handed_out(ready)
                if not going:
                    break
            flush()
        except av.error.FFmpegError as exc:
            raise Rejected("corrupt_audio", f"decoding failed after {decoded_in:.2f} s: {exc}") from None
    if in_rate is None or decoded_in == 0:
        raise Rejected("empty_audio", "no audio samples in the requested range")
    if resampler is not None:
        ready.append(resampler.resample_chunk(np.zeros((0, channels), np.float32), last=True))
    yield from _handed_out(ready)
    expected = (min(stop, declared) if declared is not None else stop) - start
    if math.isfinite(expected) and decoded_in < TRUNCATION_RATIO * expected - 1.0:
        raise Rejected("truncated", f"decoded {decoded_in:.2f} s of a declared {expected:.2f} s")


def _handed_out(ready: list):
    """(n, channels) pieces -> (channels, n) float32 blocks, checked for NaN and infinity."""
    for piece in ready:
        if piece.shape[0]:
            if not np.isfinite(piece).all():
                raise Rejected("non_finite_samples", "audio contains NaN or infinite samples")
            yield np.ascontiguousarray(piece.T, dtype=np.float32)
    ready.clear()


class DecodeAudio(beam.DoFn):
    """SourceItem -> DecodedAudio at the target rate and channel count."""

    def __init__(self, audio: AudioSettings = AudioSettings()):
        self.sample_rate, self.channels, self.max_seconds = audio.sample_rate, audio.channels, audio.max_source_s

    def process(self, item: SourceItem):
        samples = np.concatenate(list(self.blocks(item)), axis=1)
        yield DecodedAudio(item=item, samples=np.ascontiguousarray(samples), sample_rate=self.sample_rate,
                           offset_s=item.start_s or 0.0)

    def blocks(self, item: SourceItem):
        """The item's audio as decode_blocks hands it out; the fetch stage's temporary copy (see
        SourceItem.fetched) is removed once read, or once the decode fails."""
        try:
            yield from self._decode(item)
        finally:
            if item.fetched is not None and os.path.exists(item.fetched):
                os.remove(item.fetched)

    def _decode(self, item: SourceItem):
        path = item.fetched or item.uri
        # A fetched section begins at fetched_offset_s of the source: cut the range in its time.
        shift = item.fetched_offset_s
        start = None if item.start_s is None else max(0.0, item.start_s - shift)
        end = None if item.end_s is None else item.end_s - shift
        if not FileSystems.exists(path):
            raise Rejected("missing_file", f"no file at {path}", transient=True)  # it may be there by the next run
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            if f.seek(0, 2) == 0:
                raise Rejected("empty_file", "the file is empty (0 bytes)")
            if lost_its_end(f):
                raise Rejected("truncated", "the file is shorter than its container says")
            yield from decode_blocks(f, self.sample_rate, self.channels, start, end, self.max_seconds)
