"""A sample's encoded audio (FLAC or WAV bytes) -> a tensor (channels, frames).

`AudioSpec` says what the model wants: a sample rate (None: as stored), a length in seconds (None:
the whole clip), where a shorter window is cut from a longer clip (`crop`: random, start or
center), whether to mix down to mono, and the sample type: float32 in [-1, 1], or int16 PCM
(the FLAC's own 16-bit samples: half the bytes to move from loader workers and to the
accelerator; divide by 32768 there). Clips shorter than the window are zero-padded at the end, so
every tensor of a batch has the same shape.

Only the frames the window needs are decoded (libsndfile seeks inside the FLAC), and nothing is
resampled or copied when the stored rate and layout already match.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
from typing import Literal, Optional

import numpy as np
import soundfile as sf
import soxr
import torch

Crop = Literal["random", "start", "center"]
DTYPES = {"float32": np.float32, "int16": np.int16}


@dataclasses.dataclass(frozen=True)
class AudioSpec:
    sample_rate: Optional[int] = None  # None: the stored rate
    seconds: Optional[float] = None  # None: the whole clip (tensors then differ in length)
    crop: Crop = "random"
    mono: bool = True
    dtype: Literal["float32", "int16"] = "float32"

    def __post_init__(self):
        if self.sample_rate is not None and self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, not {self.sample_rate}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, not {self.seconds}")
        if self.crop not in ("random", "start", "center"):
            raise ValueError(f"crop must be random, start or center, not {self.crop!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, not {self.dtype!r}")

    @property
    def needs_rng(self) -> bool:
        return self.seconds is not None and self.crop == "random"


def window_start(total: int, frames: int, crop: Crop, rng: Optional[random.Random]) -> int:
    spare = total - frames
    if spare <= 0:
        return 0
    if crop == "start":
        return 0
    if crop == "center":
        return spare // 2
    return rng.randint(0, spare)


def decode_audio(data: bytes, spec: AudioSpec, rng: Optional[random.Random] = None,
                 out: Optional[np.ndarray] = None) -> tuple[Optional[torch.Tensor], int]:
    """(tensor (channels, frames) of spec.dtype, its sample rate); with `out` (a (channels, frames) array
    of the window's shape), the audio goes into `out` and the tensor is None. Mono audio at its
    stored rate is then decoded straight into `out`, with no array of its own."""
    with sf.SoundFile(io.BytesIO(data)) as f:
        rate, total, channels = f.samplerate, f.frames, f.channels
        out_rate = spec.sample_rate or rate
        if spec.seconds is None:
            start, frames = 0, total
        else:
            # source frames covering the window, one spare so resampling does not come up short
            frames = min(total, math.ceil(spec.seconds * rate) + (out_rate != rate))
            start = window_start(total, frames, spec.crop, rng)
            if start:
                f.seek(start)
        as_stored = out_rate == rate and (channels == 1 or not spec.mono)
        if out is not None and as_stored and channels == 1 and out.shape[0] == 1:
            got = f.read(frames, dtype=spec.dtype, always_2d=True, out=out.reshape(-1, 1)[:frames])
            out[:, len(got):] = 0
            return None, out_rate
        # mixing down and resampling work in float32, converted to the asked type at the end
        x = f.read(frames, dtype=spec.dtype if as_stored else "float32", always_2d=True)  # (frames, channels)
    if spec.mono and x.shape[1] > 1:
        x = x.mean(axis=1, keepdims=True)
    if out_rate != rate:
        x = soxr.resample(x, rate, out_rate)
    if x.dtype != DTYPES[spec.dtype]:
        x = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    if out is not None:
        n = min(len(x), out.shape[1])
        out[:, :n] = x[:n].T
        out[:, n:] = 0
        return None, out_rate
    if spec.seconds is not None:
        want = round(spec.seconds * out_rate)
        if x.shape[0] > want:
            x = x[:want]
        elif x.shape[0] < want:
            x = np.concatenate([x, np.zeros((want - x.shape[0], x.shape[1]), x.dtype)])
    # (frames, 1) -> (1, frames) is a free reshape; only multichannel audio needs the transpose copy
    x = x.reshape(1, -1) if x.shape[1] == 1 else np.ascontiguousarray(x.T)
    return torch.from_numpy(x), out_rate
