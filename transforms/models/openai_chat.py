"""OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp server, `transformers serve`, hosted APIs).

One `EndpointClient` per worker process (what `load_model` returns, so Beam's `Shared` keeps
one): an asyncio loop on a background thread sends the requests of every RunInference batch
concurrently, at most `concurrency` at a time across all threads of the process. A request is
retried with exponential backoff (and the server's Retry-After) on 429, 5xx, timeouts, broken
connections, empty and malformed replies; a request that still fails — or finds the request
budget spent — comes back as a `Generation` with a reason, never as an exception, so the
rest of its batch is kept. Token usage reported by the server is kept on each generation and
counted in Beam metrics.

Audio requests go out as `input_audio` content parts (16-bit WAV, base64), as OpenAI's audio
chat models and `transformers serve` take them.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import random
import threading
from typing import Any, Optional, Sequence, Union

import apache_beam as beam
import numpy as np

from tunescribe.transforms.audio.encode import encode_pcm
from tunescribe.transforms.models.base import Batching, TunescribeModelHandler
from tunescribe.transforms.models.generation import (
    AudioRequest,
    Endpoint,
    Generation,
    GenerationParams,
    TextRequest,
    resample,
)

log = logging.getLogger(__name__)

RETRYABLE = frozenset({"endpoint_rate_limited", "endpoint_server_error", "endpoint_timeout",
                       "endpoint_unreachable", "endpoint_empty_reply", "endpoint_malformed_reply"})
RAW_KEPT = 2000  # characters of a bad reply kept in the reject detail


# A chat reply of 32k tokens is about 150 kB of JSON: a body far past that is not an answer, and
# reading it whole would let a broken or hostile endpoint fill a worker's memory.
MAX_REPLY_BYTES = 4 * 2**20


class _Failure(Exception):
    """A failed request; `transient`: of the moment (the endpoint, not the request), so a rerun of
    the build asks again — unlike a refused request or a broken answer, which would come back."""

    def __init__(self, reason: str, detail: str, retry_after: Optional[float] = None, transient: bool = False):
        super().__init__(reason, detail)
        self.reason, self.detail, self.retry_after, self.transient = reason, detail, retry_after, transient


def parse_reply(status: int, body: bytes, headers) -> Generation:
    """One HTTP reply -> Generation, or _Failure with a reason code."""
    text = body.decode("utf-8", "replace")
    if status == 429:
        raise _Failure("endpoint_rate_limited", f"HTTP 429: {text[:RAW_KEPT]}", _retry_after(headers), transient=True)
    if status >= 500:
        raise _Failure("endpoint_server_error", f"HTTP {status}: {text[:RAW_KEPT]}", _retry_after(headers),
                       transient=True)
    if status >= 400:
        raise _Failure("endpoint_client_error", f"HTTP {status}: {text[:RAW_KEPT]}")
    try:
        data = json.loads(text)
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if content is not None and not isinstance(content, str):
            raise TypeError(f"content is {type(content).__name__}")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Failure("endpoint_malformed_reply", f"{type(exc).__name__} {exc}; raw reply: {text[:RAW_KEPT]!r}")
    if not content or not content.strip():
        raise _Failure("endpoint_empty_reply", f"empty message content; raw reply: {text[:RAW_KEPT]!r}")
    usage = data.get("usage") or {}
    return Generation(text=content, prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"), finish_reason=choice.get("finish_reason"),
                      model_version=data.get("model"))


def _retry_after(headers) -> Optional[float]:
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


class EndpointClient:
    """Sends chat requests to one endpoint; thread-safe; one per worker process."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.headers = endpoint.headers()
        self.url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self.sent = 0  # attempts, against the budget
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tunescribe-http", daemon=True)
        self._thread.start()
        self._http, self._slots = asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()

    async def _open(self):
        import httpx2

        limits = httpx2.Limits(max_connections=self.endpoint.concurrency,
                               max_keepalive_connections=self.endpoint.concurrency)
        http = httpx2.AsyncClient(timeout=httpx2.Timeout(self.endpoint.timeout_s), limits=limits)
        return http, asyncio.Semaphore(self.endpoint.concurrency)

    def complete(self, bodies: Sequence[dict]) -> list[Generation]:
        """Sends every body (concurrently, bounded) and waits for all; never raises for one request."""
        return asyncio.run_coroutine_threadsafe(self._all(bodies), self._loop).result()

    async def _all(self, bodies):
        return await asyncio.gather(*(self._one(body) for body in bodies))

    def _take_budget(self) -> bool:
        with self._lock:
            if self.endpoint.max_requests is not None and self.sent >= self.endpoint.max_requests:
                return False
            self.sent += 1
            return True

    async def _one(self, body: dict) -> Generation:
        import httpx2

        e, failure, attempt = self.endpoint, None, 0
        for attempt in range(1, e.max_retries + 2):
            if not self._take_budget():
                return Generation(text="", error="request_budget_exhausted", attempts=attempt - 1, transient=True,
                                  detail=f"budget of {e.max_requests} requests spent"
                                         + (f"; last failure {failure.reason}: {failure.detail}" if failure else ""))
            try:
                async with self._slots:
                    # httpx's timeout is per read: a reply dripping a byte a second would never end.
                    # timeout_s is also the whole request's deadline.
                    status, content, headers = await asyncio.wait_for(self._post(body), e.timeout_s)
                return dataclasses.replace(parse_reply(status, content, headers), attempts=attempt)
            except _Failure as f:
                failure = f
            except (httpx2.TimeoutException, asyncio.TimeoutError) as exc:
                failure = _Failure("endpoint_timeout", f"no reply within {e.timeout_s} s ({type(exc).__name__})",
                                   transient=True)
            except httpx2.TransportError as exc:
                failure = _Failure("endpoint_unreachable", f"{type(exc).__name__}: {exc}", transient=True)
            if failure.reason not in RETRYABLE or attempt > e.max_retries:
                break
            delay = min(e.max_backoff_s, e.backoff_s * 2 ** (attempt - 1) * (1 + random.random()))
            if failure.retry_after is not None:
                delay = min(e.max_backoff_s, max(delay, failure.retry_after))
            log.info("%s: %s, retry %d in %.2f s", self.url, failure.reason, attempt, delay)
            await asyncio.sleep(delay)
        return Generation(text="", error=failure.reason, attempts=attempt, transient=failure.transient,
                          detail=f"after {attempt} attempt(s): {failure.detail}")

    async def _post(self, body: dict):
        """(status, body bytes, headers) of one request; the body read up to MAX_REPLY_BYTES."""
        async with self._http.stream("POST", self.url, json=body, headers=self.headers) as reply:
            chunks, size = [], 0
            async for chunk in reply.aiter_bytes():
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise _Failure("endpoint_reply_too_large", f"reply body over {MAX_REPLY_BYTES} bytes")
                chunks.append(chunk)
            return reply.status_code, b"".join(chunks), reply.headers

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._http.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def wav_base64(samples, sample_rate: int) -> str:
    """Mono PCM as base64 16-bit WAV (encode_pcm clips to [-1, 1]: no integer wrap-around)."""
    return base64.b64encode(encode_pcm(np.asarray(samples)[None, :], sample_rate, "wav")).decode("ascii")


class OpenAIChatHandler(TunescribeModelHandler[Union[TextRequest, AudioRequest], Generation, EndpointClient]):
    """Text or audio chat requests against an OpenAI-compatible `/chat/completions`."""

    backend = "openai"

    def __init__(self, endpoint: Endpoint, params: GenerationParams = GenerationParams(),
                 batching: Batching = Batching(max_batch_size=32), audio_sample_rate: int = 16000):
        super().__init__(None, batching)
        self.endpoint, self.params, self.audio_sample_rate = endpoint, params, audio_sample_rate

    def model_identity(self) -> tuple[str, Optional[str]]:
        return self.endpoint.model, self.endpoint.revision

    def load_model(self) -> EndpointClient:
        return EndpointClient(self.endpoint)

    def body(self, request: Union[TextRequest, AudioRequest]) -> dict:
        p = self.params
        if isinstance(request, AudioRequest):
            pcm = resample(request.samples, request.sample_rate, self.audio_sample_rate)
            audio = {"data": wav_base64(pcm, self.audio_sample_rate), "format": "wav"}
            parts = [{"type": "input_audio", "input_audio": audio}]
            if request.instruction:
                parts.insert(0, {"type": "text", "text": request.instruction})
            messages = [{"role": "user", "content": parts}]
        else:
            messages = request.chat()
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": messages, "max_tokens": p.max_new_tokens,
                                "temperature": p.temperature, "top_p": p.top_p}
        if p.top_k > 0:  # not an OpenAI parameter; vLLM and TGI take it
            body["top_k"] = p.top_k
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def run_inference(self, batch: Sequence[Union[TextRequest, AudioRequest]], model: EndpointClient,
                      inference_args: Optional[dict[str, Any]] = None) -> list[Generation]:
        results = model.complete([self.body(r) for r in batch])
        ns = self.get_metrics_namespace()
        for name, value in (("requests_sent", sum(g.attempts for g in results)),
                            ("prompt_tokens", sum(g.prompt_tokens or 0 for g in results)),
                            ("completion_tokens", sum(g.completion_tokens or 0 for g in results)),
                            ("failed_requests", sum(not g.ok for g in results))):
            beam.metrics.Metrics.counter(ns, name).inc(value)
        return results

    def get_num_bytes(self, batch) -> int:
        return sum(r.text_size() if isinstance(r, TextRequest) else r.samples.nbytes for r in batch)
