"""Fetches remote audio (HTTP(S) and any fsspec object store) to a local temp file, safely.

Every download: a per-host concurrency limit (per worker process), a connect and per-read
timeout, a minimum average rate (a server dripping bytes just often enough to beat the read
timeout would otherwise hold a worker for hours), retries with exponential backoff on transient
failures (timeouts, slow drips, dropped connections, 5xx, 429), a size cap enforced while
streaming (never held whole in memory), and content sniffing: the first bytes must look like an
audio/video container. An HTML page is no failure here: the fetch stage hands its URL to
yt-dlp, whose generic extractor finds the media in it. Every failure raises `Rejected` with one of FETCH_REASONS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from typing import Callable, Optional
from urllib.parse import urlsplit

import fsspec

from tunescribe.transforms.ingest.settings import RemoteOptions
from tunescribe.transforms.stage import DISK_FULL_ERRNOS, Rejected

# Reject reasons of the fetch stage (yt-dlp adds its own in youtube.py).
FETCH_REASONS = {
    "unavailable": "the source is gone: HTTP 404/410, no such object, video unavailable",
    "forbidden": "HTTP 401/403 or no permission on the object",
    "http_error": "another HTTP 4xx answer",
    "server_error": "HTTP 5xx, still failing after the retries",
    "rate_limited": "HTTP 429, still refused after the retries",
    "timeout": "no answer (connect or read) within remote.timeout_s, after the retries",
    "too_slow": "the body came slower than remote.min_bytes_per_s on average (a slow drip), after the retries",
    "truncated": "the body ended before its Content-Length (dropped or lying server), after the retries",
    "redirect_loop": "more than 10 redirects (a loop)",
    "network_error": "connection refused/reset/dropped or name not resolved, after the retries",
    "too_large": "larger than remote.max_bytes",
    "not_audio": "the content is not an audio/video container (sniffed from its first bytes)",
    "unsupported_scheme": "no fsspec filesystem for the URL's scheme (e.g. install gcsfs for gs://)",
}
RETRYABLE = {"server_error", "rate_limited", "timeout", "too_slow", "truncated", "network_error"}
# Reasons that say "not now" rather than "not this": the reject is transient, and the next run
# with the same config fetches the item again (transforms/sinks/ledger.py).
OF_THE_MOMENT = frozenset({"server_error", "rate_limited", "timeout", "network_error", "download_failed"})

SNIFF_BYTES = 4096
CHUNK_BYTES = 1 << 20


# --- sniffing -------------------------------------------------------------------------------

def sniff(head: bytes) -> Optional[str]:
    """The container the first bytes of a file announce; "html" for a web page, "text" for other
    text; None when unknown (raw streams without a header)."""
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return "wav" if head[8:12] == b"WAVE" else "avi"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"ID3"):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith((b"caff", b"#!AMR", b".snd", b"MAC ", b"wvpk", b"TTA1")):
        return "audio"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio / ADTS frame sync
        return "mpeg"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024]:
        return "html"
    if head and _is_text(head):
        return "text"
    return None


def _is_text(head: bytes) -> bool:
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:  # may be a character cut at the end of the sniffed bytes
        try:
            decoded = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\t\r\n\f" for ch in decoded)


def looks_like_media(head: bytes, content_type: str) -> bool:
    """Magic bytes decide; a body without known magic passes only if served as audio/* or video/*."""
    kind = sniff(head)
    if kind is not None:
        return kind not in ("html", "text")
    return content_type.startswith(("audio/", "video/"))


# --- per-host concurrency ----------------------------------------------------------------

_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@contextlib.contextmanager
def host_slot(url: str, limit: int):
    """Holds one of `limit` slots for the URL's host (shared by every thread of this process)."""
    host = urlsplit(url).netloc or url.split("://", 1)[0]
    with _slots_lock:
        slot = _slots.setdefault((host, limit), threading.BoundedSemaphore(limit))
    with slot:
        yield


# --- error classification and retries ------------------------------------------------------

def http_status_reason(status: int) -> str:
    if status in (404, 410):
        return "unavailable"
    if status in (401, 403):
        return "forbidden"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "http_error"


def fetch_rejected(reason: str, detail: str) -> Rejected:
    """The fetch stage's Rejected for one of its reasons, transient when the reason is of the moment."""
    return Rejected(reason, detail, transient=reason in OF_THE_MOMENT)


def classify(exc: BaseException) -> Rejected:
    """An exception from fsspec/aiohttp -> the Rejected it means."""
    import aiohttp
    from fsspec.exceptions import FSTimeoutError

    if isinstance(exc, Rejected):
        return exc
    cause = exc
    # fsspec's HTTP info() turns every failed request into FileNotFoundError "from" the real one.
    while isinstance(cause, FileNotFoundError) and cause.__cause__ is not None:
        cause = cause.__cause__
    status = getattr(cause, "status", None)
    if isinstance(cause, aiohttp.TooManyRedirects):
        return fetch_rejected("redirect_loop", f"{type(cause).__name__}: more than 10 redirects from {cause.request_info.real_url}")
    if isinstance(cause, aiohttp.ClientPayloadError):
        return fetch_rejected("truncated", f"{type(cause).__name__}: {cause}"[:500])
    if isinstance(cause, aiohttp.ClientResponseError) and status:
        return fetch_rejected(http_status_reason(status), f"HTTP {status} {cause.message}".strip())
    if isinstance(cause, (TimeoutError, asyncio.TimeoutError, FSTimeoutError)):
        return fetch_rejected("timeout", f"no answer within the timeout ({type(cause).__name__})")
    if isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS:
        raise exc  # our disk, not the source: RunStage stops the run (stage.py)
    if isinstance(cause, FileNotFoundError):
        return fetch_rejected("unavailable", f"not found: {cause}")
    if isinstance(cause, PermissionError):
        return fetch_rejected("forbidden", str(cause))
    if isinstance(cause, (aiohttp.ClientError, ConnectionError, OSError)):
        return fetch_rejected("network_error", f"{type(cause).__name__}: {cause}")
    raise exc  # a bug, not a remote failure: let the stage report it as unexpected_error


def with_retries(attempt: Callable[[], object], options: RemoteOptions, url: str):
    """Runs `attempt` (holding a host slot) until it succeeds, fails for good, or tries run out."""
    tries = 0
    while True:
        try:
            with host_slot(url, options.per_host):
                return attempt()
        except Exception as exc:  # noqa: BLE001 - classified below; bugs are re-raised there
            rejected = classify(exc)
            if rejected.reason not in RETRYABLE or tries >= options.retries:
                if tries:
                    rejected.detail += f" (after {tries + 1} tries)"
                raise rejected from None
            wait = min(options.max_backoff_s, options.backoff_s * 2 ** tries)
            time.sleep(wait * random.uniform(0.5, 1.0))  # jitter: workers don't retry in lockstep
            tries += 1


# --- downloads -------------------------------------------------------------------------------

def client_timeout(options: RemoteOptions):
    """aiohttp's timeouts for our requests: per-connect and per-read, no total (bodies may be long)."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=options.timeout_s, sock_read=options.timeout_s)


def http_filesystem(options: RemoteOptions):
    """fsspec's HTTP filesystem with our timeouts."""
    return fsspec.filesystem("http", client_kwargs={"timeout": client_timeout(options)}, skip_instance_cache=True)


class Pace:
    """Rejects a body whose average rate falls under `min_bytes_per_s` once `grace_s` has passed.
    Per-read timeouts alone never end a download that gets a few bytes just before each timeout."""

    def __init__(self, min_bytes_per_s: float, grace_s: float):
        self.min_rate, self.grace_s = min_bytes_per_s, grace_s
        self.started, self.received = time.monotonic(), 0

    def add(self, n: int) -> None:
        self.check(self.received + n)

    def check(self, received: int) -> None:
        """`received`: the bytes so far, in all."""
        self.received = received
        elapsed = time.monotonic() - self.started
        if self.min_rate and elapsed > self.grace_s and self.received < self.min_rate * elapsed:
            raise Rejected("too_slow", f"{self.received} bytes in {elapsed:.1f} s, under min_bytes_per_s "
                                       f"{self.min_rate:g} (a slow drip)")


def _stream_to(f, dest: str, max_bytes: int, content_type: str, size: Optional[int],
               min_bytes_per_s: float = 0.0, grace_s: float = 0.0) -> str:
    """Copies an open remote file to `dest` in chunks; returns the sniffed kind ("html" = not copied)."""
    if size is not None and size > max_bytes:
        raise Rejected("too_large", f"{size} bytes > max_bytes {max_bytes}")
    pace = Pace(min_bytes_per_s, grace_s)
    head = b""
    while len(head) < SNIFF_BYTES:
        chunk = f.read(SNIFF_BYTES - len(head))
        if not chunk:
            break
        head += chunk
        pace.add(len(chunk))
    kind = sniff(head)
    if kind == "html":
        return kind
    if not looks_like_media(head, content_type):
        raise Rejected("not_audio", f"content type {content_type or 'unknown'!r}, starts {head[:16]!r}")
    written = len(head)
    with open(dest, "wb") as out:
        out.write(head)
        while chunk := f.read(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise Rejected("too_large", f"more than max_bytes {max_bytes} bytes")
            pace.add(len(chunk))
            out.write(chunk)
    return kind or "media"


@contextlib.contextmanager
def _removed_on_failure(dest: str):
    """A failed try leaves no partial file behind (the next try, or the decoder, would read it)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(dest)
        raise


def fetch_http(url: str, dest: str, fs, options: RemoteOptions) -> str:
    """GET `url` streamed into `dest`; returns the sniffed kind, "html" for a web page (not saved)."""
    def attempt():
        with _removed_on_failure(dest), fs.open(url, "rb", block_size=0) as f:  # block_size 0: one streamed GET
            headers = getattr(getattr(f, "r", None), "headers", {}) or {}
            length = headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            return _stream_to(f, dest, options.max_bytes, headers.get("Content-Type", ""), size,
                              options.min_bytes_per_s, options.timeout_s)

    return with_retries(attempt, options, url)


def fetch_object(uri: str, dest: str, options: RemoteOptions) -> str:
    """Any other fsspec URL (gs://, s3://, az://, memory://...) streamed into `dest`."""
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise Rejected("unsupported_scheme", f"{uri.split('://', 1)[0]}://: {exc}") from None

    def attempt():
        with _removed_on_failure(dest):
            size = fs.info(path).get("size")
            with fs.open(path, "rb") as f:
                return _stream_to(f, dest, options.max_bytes, "", size, options.min_bytes_per_s, options.timeout_s)

    return with_retries(attempt, options, uri)


def probe_http(url: str, headers: dict, options: RemoteOptions) -> Optional[Rejected]:
    """Why a media URL fails, asked once with our own client: its first bytes, one try.

    Used after an opaque failure elsewhere (ffmpeg's exit code says little); None if the URL
    answers with media."""
    import aiohttp

    async def probe():
        async with aiohttp.ClientSession(timeout=client_timeout(options)) as session:
            async with session.get(url, headers={**headers, "Range": f"bytes=0-{SNIFF_BYTES - 1}"}) as r:
                r.raise_for_status()
                head = b""
                while len(head) < SNIFF_BYTES and (chunk := await r.content.read(SNIFF_BYTES - len(head))):
                    head += chunk
                return head, r.headers.get("Content-Type", "")

    try:
        head, content_type = asyncio.run(probe())
    except Exception as exc:  # noqa: BLE001
        try:
            return classify(exc)
        except Exception:  # noqa: BLE001 - an odd failure of the probe itself tells nothing
            return None
    if not looks_like_media(head, content_type):
        return Rejected("not_audio", f"content type {content_type or 'unknown'!r}, starts {head[:16]!r}")
    return None


def open_remote(uri: str, options: RemoteOptions = RemoteOptions()):
    """An fsspec file object for reading a remote manifest (compression from the extension)."""
    kwargs = {}
    if urlsplit(uri).scheme in ("http", "https"):
        kwargs["client_kwargs"] = {"timeout": client_timeout(options)}
    return fsspec.open(uri, "rb", compression="infer", **kwargs)
