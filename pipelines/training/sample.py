"""A corpus sample's members -> the training sample: audio tensor, one caption, key and split.

Shared by the streaming and the random-access datasets, so both give the same thing. Member
names come as webdataset gives them ("flac", "json") or as wids does (".flac", ".json").

Random choices (crop offset, caption) come from a generator seeded by (seed, epoch, key): the
same sample gets the same choices in an epoch whichever worker or rank reads it, and new ones the
next epoch.
"""

from __future__ import annotations

import json
import random
from typing import Optional, Sequence

import torch

from tunescribe.pipelines.training.audio import AudioSpec, decode_audio
from tunescribe.pipelines.training.captions import CaptionPolicy

AUDIO_MEMBERS = ("flac", "wav")


def member(raw: dict, name: str) -> Optional[bytes]:
    value = raw.get(name)
    value = raw.get("." + name) if value is None else value
    return value.getvalue() if hasattr(value, "getvalue") else value  # wids gives file objects


def sample_rng(seed: int, epoch: int, key: str) -> random.Random:
    # seeding from a string hashes it with sha512: stable across processes (unlike hash()), and
    # much cheaper per sample than numpy's SeedSequence
    return random.Random(f"{seed}/{epoch}/{key}")


class SampleDecoder:
    """Callable: raw sample (member name -> bytes) -> training sample dict, or None to drop it.

    The training sample: `__key__`, `audio` (tensor (channels, frames) of the AudioSpec dtype), `sample_rate`,
    `text` (the chosen caption; "" if the clip has none and the policy is not strict), `task`,
    `backend`, `split`, and `json` (every clip field) when `keep_json`."""

    def __init__(self, audio: AudioSpec, captions: Sequence[CaptionPolicy], seed: int = 0, keep_json: bool = False):
        self.audio, self.captions, self.seed, self.keep_json = audio, tuple(captions), seed, keep_json

    def policy(self, epoch: int) -> CaptionPolicy:
        return self.captions[epoch % len(self.captions)]

    def __call__(self, raw: dict, epoch: int = 0, out=None) -> Optional[dict]:
        """With `out` (a (channels, frames) array), the audio is decoded into it and the sample's
        `audio` is left out."""
        key = raw["__key__"]
        policy = self.policy(epoch)
        rng = sample_rng(self.seed, epoch, key) if (policy.needs_rng or self.audio.needs_rng) else None
        row = json.loads(member(raw, "json"))
        caption = policy.pick(row.get("captions") or [], rng)
        if caption is None and policy.strict:
            return None
        data = next((d for d in (member(raw, m) for m in AUDIO_MEMBERS) if d is not None), None)
        if data is None:
            raise ValueError(f"sample {key} has no audio member ({', '.join(AUDIO_MEMBERS)})")
        audio, rate = decode_audio(data, self.audio, rng, out)
        sample = {
            "__key__": key,
            "sample_rate": rate,
            "text": caption["text"] if caption else "",
            "task": caption["task"] if caption else "",
            "backend": caption["backend"] if caption else "",
            "split": row.get("split") or "",
        }
        if self.keep_json:
            sample["json"] = row
        if out is None:
            sample["audio"] = audio
        return sample


def batches(raws, decoder: SampleDecoder, epoch: int, size: int, shared: bool):
    """Raw samples -> batches of `size` (the last may be smaller): `audio` one tensor
    (batch, channels, frames), `sample_rate` an int tensor, the other fields lists.

    Each sample is decoded straight into its row of the batch tensor; in a DataLoader worker
    (`shared`) that tensor is made in shared memory, so neither a collate copy nor a copy into
    shared memory on the way to the main process is needed. The first sample of a batch is
    decoded on its own to learn the shape."""
    audio, rows = None, []
    for raw in raws:
        if audio is None:
            sample = decoder(raw, epoch)
            if sample is None:
                continue
            first = sample.pop("audio")
            audio = torch.empty((size, *first.shape), dtype=first.dtype)
            if shared:
                audio.share_memory_()
            audio[0] = first
        else:
            sample = decoder(raw, epoch, out=audio[len(rows)].numpy())
            if sample is None:
                continue
        rows.append(sample)
        if len(rows) == size:
            yield collate(audio, rows)
            audio, rows = None, []
    if rows:
        yield collate(audio[: len(rows)], rows)


def collate(audio: torch.Tensor, rows: list[dict]) -> dict:
    batch = {name: [row[name] for row in rows] for name in rows[0]}
    batch["sample_rate"] = torch.tensor(batch["sample_rate"])
    batch["audio"] = audio
    return batch
