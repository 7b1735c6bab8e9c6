"""What text-generating handlers take and give back, and seeded sampling that ignores batching.

Handlers know no prompts: a `TextRequest` is already a chat (role, content) and an
`AudioRequest` already holds mono PCM and, for chat models, the instruction. Every handler
answers each request with a `Generation`; a request that failed on its own (an endpoint that
kept answering 429, a malformed reply) is a `Generation` with `error` set, so one bad request
never fails the batch it came in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from typing import Optional

import numpy as np
from pydantic import Field

from tunescribe.transforms.settings import Settings

Message = tuple[str, str]  # (role, content)


class GenerationParams(Settings):
    """Decoding settings shared by every generating backend (a captioner's `generation` section)."""

    max_new_tokens: int = Field(128, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0, le=5)  # 0: greedy
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)  # 0: no top-k cut
    seed: int = Field(0, ge=0)  # base seed; each request's seed derives from it, the clip key and the prompt

    @property
    def sampling(self) -> bool:
        return self.temperature > 0


class Endpoint(Settings):
    """An OpenAI-compatible chat endpoint and how it is called (openai_chat.py); the config's
    `openai` and `openai-audio` captioners are this plus their tasks."""

    base_url: str = Field(pattern=r"^https?://")  # e.g. http://127.0.0.1:8000/v1
    model: str = Field(min_length=1)
    api_key_env: Optional[str] = None  # NAME of the environment variable holding the key, never the key
    revision: Optional[str] = None  # e.g. a dated snapshot; default: the model name the server reports
    concurrency: int = Field(8, ge=1, le=1024)
    max_retries: int = Field(4, ge=0, le=20)
    timeout_s: float = Field(60.0, gt=0)
    backoff_s: float = Field(1.0, ge=0)
    max_backoff_s: float = Field(30.0, ge=0)
    max_requests: Optional[int] = Field(None, ge=1)  # request budget (every attempt counts), per client

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise ValueError(f"environment variable {self.api_key_env} (the API key) is not set")
            headers["authorization"] = f"Bearer {key}"
        return headers


@dataclasses.dataclass(frozen=True)
class TextRequest:
    messages: tuple[Message, ...]
    seed: Optional[int] = None  # this request's sampling seed (see derive_seed)

    def chat(self) -> list[dict]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def text_size(self) -> int:
        return sum(len(c) for _, c in self.messages)


@dataclasses.dataclass(frozen=True, eq=False)
class AudioRequest:
    samples: np.ndarray  # float32 mono, at `sample_rate`
    sample_rate: int
    instruction: Optional[str] = None  # for chat models; encoder-decoders take none
    seed: Optional[int] = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclasses.dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    finish_reason: Optional[str] = None  # "stop", "length", ...
    error: Optional[str] = None  # stable reason code when the request failed
    detail: str = ""  # why it failed (and the raw reply, when there was one)
    transient: bool = False  # the failure is of the moment (endpoint down, rate-limited): a rerun asks again
    attempts: int = 1
    model_version: Optional[str] = None  # what the backend says it ran (HTTP: the reply's `model`)

    @property
    def ok(self) -> bool:
        return self.error is None


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono PCM to the rate a model takes (soxr, high quality)."""
    if rate == target:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(samples, dtype=np.float32), rate, target, quality="HQ").astype(np.float32)


def request_size(request) -> int:
    """A request's weight in a batch: one per prompt; audio by its length in whole seconds, so
    batches of long clips hold fewer of them."""
    if isinstance(request, AudioRequest):
        return max(1, math.ceil(request.duration_s))
    return 1


def derive_seed(base: int, *parts: str) -> int:
    """A request's own seed from the run's seed and what identifies the request (clip, prompt),
    so a caption can be regenerated alone and does not depend on what else was in its batch."""
    digest = hashlib.sha256(":".join([str(base), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


_M32 = 0xFFFFFFFF


def _mix32(x):
    """A 32-bit integer hash (two rounds of multiply-xorshift) on int64 tensors; the constant
    stays below 2**31 so products fit in int64 without overflow."""
    for _ in range(2):
        x = x ^ (x >> 16)
        x = (x * 0x45D9F3B) & _M32
    return x ^ (x >> 16)


def gumbel_noise(seeds, step: int, vocab: int):
    """Gumbel(0, 1) noise of shape (len(seeds), vocab), a pure function of (seed, step, token):
    the same row gets the same noise whatever batch it is in."""
    import torch

    seeds = seeds.to(torch.int64).unsqueeze(1)
    tokens = torch.arange(vocab, dtype=torch.int64, device=seeds.device).unsqueeze(0)
    x = _mix32((seeds * 0x27D4EB2D + step * 0x165667B1) & _M32)
    x = _mix32((x ^ tokens) & _M32)
    u = (x.to(torch.float64) + 0.5) / 2.0**32
    return -torch.log(-torch.log(u))


def seeded_sampler(params: GenerationParams, seeds: list[int], prompt_len: int):
    """A transformers LogitsProcessor that turns greedy decoding into sampling with one seed per
    row (the Gumbel-max trick: argmax(logits / T + Gumbel noise) is a sample of softmax(logits / T)).
    Global-RNG sampling would tie each caption to its batch's make-up and order."""
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    warpers = [TemperatureLogitsWarper(params.temperature)]
    if params.top_k > 0:
        warpers.append(TopKLogitsWarper(params.top_k))
    if params.top_p < 1.0:
        warpers.append(TopPLogitsWarper(params.top_p))

    class SeededSampling(LogitsProcessor):
        def __init__(self):
            self.seeds = torch.tensor(seeds, dtype=torch.int64)

        def __call__(self, input_ids, scores):
            for warp in warpers:
                scores = warp(input_ids, scores)
            step = input_ids.shape[1] - prompt_len
            noise = gumbel_noise(self.seeds.to(scores.device), step, scores.shape[-1])
            return scores + noise.to(scores.dtype)

    return SeededSampling()


def clean_text(text: str) -> str:
    """Model output as a caption: control characters dropped, whitespace collapsed."""
    kept = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    return " ".join(kept.split())
