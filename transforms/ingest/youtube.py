"""Downloads the audio of a YouTube video (or any page yt-dlp can read) to a local file.

Through yt-dlp's Python API, audio only (`format`, default bestaudio/best). A time range is
downloaded as a section (ffmpeg cuts it at the source, so a 10 s clip of a 2 h video costs
10 s of audio) when an ffmpeg is on PATH (yt-dlp then cuts with the configured one: imageio-
ffmpeg's by default); without one the whole audio is downloaded and the decoder cuts the range. Cookies, rate limit, sleeps and proxy
come from the config. Failures are classified into reject reasons (YTDLP_REASONS plus the
HTTP ones of remote.py); yt-dlp's video id is never used as a key.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
from functools import lru_cache
from typing import Optional

from tunescribe.transforms.ingest.remote import (
    SNIFF_BYTES,
    Pace,
    fetch_rejected,
    http_status_reason,
    probe_http,
    sniff,
)
from tunescribe.transforms.ingest.settings import RemoteOptions, YoutubeOptions
from tunescribe.transforms.stage import Rejected

log = logging.getLogger(__name__)

YTDLP_REASONS = {
    "private": "the video is private",
    "geo_blocked": "not available from the downloader's country",
    "age_or_bot_check": "the site asks to sign in: age gate, bot check, members only",
    "extraction_failed": "yt-dlp found no downloadable audio on the page (unsupported page, changed site)",
    "download_failed": "the media download failed for a reason not classified above",
}

_PATTERNS = [  # (reason, regex on the lower-cased message), first match wins
    ("private", r"private video|this video is private"),
    ("geo_blocked", r"not available in your country|geo.?restrict|blocked it in your country"),
    ("age_or_bot_check", r"confirm your age|age.?restricted|inappropriate for some users|not a bot"
                         r"|sign in to confirm|login required|members.only|join this channel"),
    ("extraction_failed", r"unsupported url|no video formats|requested format is not available"
                          r"|unable to extract|no media found"),
    ("unavailable", r"video unavailable|has been removed|no longer available|account .* terminated"
                    r"|does not exist|is not available|video is unavailable"),
    ("rate_limited", r"too many requests|http error 429"),
    ("timeout", r"timed out|timeout"),
    ("network_error", r"connection (refused|reset|aborted)|name or service not known|name resolution"
                      r"|network is unreachable|remote end closed|incompleteread|failed to establish"),
]

# ffmpeg exits with the low byte of its AVERROR code (ffmpeg >= 7).
_FFMPEG_EXIT = {
    183: ("not_audio", "ffmpeg: invalid data in the media"),  # AVERROR_INVALIDDATA
    146: ("timeout", "ffmpeg: read timed out"),  # AVERROR(ETIMEDOUT)
    187: ("network_error", "ffmpeg: the stream ended early"),  # AVERROR_EOF
    8: ("http_error", "ffmpeg: HTTP error from the media server"),  # AVERROR_HTTP_*
}


def find_ffmpeg(configured: Optional[str] = None) -> Optional[str]:
    """The ffmpeg to use: the configured path, imageio-ffmpeg's binary, the system's, or None."""
    if configured:
        return configured
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


@lru_cache(maxsize=1)
def _site_extractors():
    from yt_dlp.extractor import gen_extractor_classes

    return [ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic"]


def site_extractor_for(url: str) -> Optional[str]:
    """The yt-dlp extractor made for this URL's site (YouTube, Vimeo...), or None for any other URL."""
    for ie in _site_extractors():
        if ie.suitable(url):
            return ie.ie_key()
    return None


class _Log:
    """yt-dlp's logger: keeps its messages for classification, sends them to logging at debug."""

    def __init__(self):
        self.messages: list[str] = []

    def _keep(self, msg):
        self.messages.append(str(msg))
        log.debug("yt-dlp: %s", msg)

    debug = info = warning = error = _keep


def _messages(exc: BaseException) -> str:
    parts = [str(exc)]
    info = getattr(exc, "exc_info", None)
    if info and info[1] is not None:
        parts.append(str(info[1]))
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        parts.append(str(cause))
    kept = [p for p in dict.fromkeys(parts) if not any(p != q and p in q for q in parts)]
    return " | ".join(kept)


def classify_ytdlp_error(exc: BaseException) -> Rejected:
    """A yt-dlp DownloadError/ExtractorError -> the Rejected it means."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import GeoRestrictedError, UnsupportedError

    inner = exc
    info = getattr(exc, "exc_info", None)
    if info and info[1] is not None:
        inner = info[1]
    cause = getattr(inner, "cause", None) or inner
    text = _messages(exc).replace("ERROR: ", "").strip()
    detail = text[:500]
    if isinstance(inner, GeoRestrictedError):
        return fetch_rejected("geo_blocked", detail)
    if isinstance(cause, HTTPError):
        return fetch_rejected(http_status_reason(cause.status), detail)
    lowered = text.lower()
    for reason, pattern in _PATTERNS:
        if re.search(pattern, lowered):
            return fetch_rejected(reason, detail)
    if isinstance(inner, UnsupportedError):
        return fetch_rejected("extraction_failed", detail)
    if isinstance(cause, TransportError):
        return fetch_rejected("network_error", detail)
    code = re.search(r"ffmpeg exited with code (\d+)", lowered)
    if code and int(code.group(1)) in _FFMPEG_EXIT:
        reason, what = _FFMPEG_EXIT[int(code.group(1))]
        return fetch_rejected(reason, f"{what} ({detail})")
    from yt_dlp.utils import ExtractorError

    if isinstance(inner, ExtractorError):
        return fetch_rejected("extraction_failed", detail)
    return fetch_rejected("download_failed", detail)


class _SlowDownload:
    """Ends a download whose bytes come slower than remote.min_bytes_per_s (remote.Pace): socket
    and ffmpeg read timeouts alone never end one that gets a few bytes before each timeout.

    yt-dlp's own downloader reports the bytes it got to `hook`, which raises. A section is read
    by an ffmpeg child process that reports nothing, and the bytes it receives are not counted
    anywhere we can read (/proc's I/O counters leave sockets out); a watcher thread measures the
    audio it writes instead and kills it: no audio at all after twice the grace (ffmpeg buffers
    its input before it writes) is a `timeout`, audio coming at under a quarter of the minimum
    rate (compressed audio is smaller than what was downloaded) is `too_slow`. Where there is no
    /proc to find the ffmpeg by, sections are left to ffmpeg's read timeout."""

    EVERY_S = 0.1

    def __init__(self, out_dir: str, remote: RemoteOptions):
        self.out_dir, self.remote = out_dir, remote
        self.pace: Optional[Pace] = None
        self.tripped: Optional[Rejected] = None
        self.stop = threading.Event()

    def hook(self, d: dict) -> None:
        if d.get("status") == "downloading" and self.remote.min_bytes_per_s:
            if self.pace is None:  # timed from the first byte asked, not from the page extraction
                self.pace = Pace(self.remote.min_bytes_per_s, self.remote.timeout_s)
            self.pace.check(d.get("downloaded_bytes") or 0)

    def watch(self) -> None:
        if self.remote.min_bytes_per_s and os.path.isdir("/proc"):
            threading.Thread(target=self._watch, name="tunescribe-ffmpeg-pace", daemon=True).start()

    def _watch(self) -> None:
        grace = 2 * self.remote.timeout_s
        pace, started = Pace(self.remote.min_bytes_per_s / 4, grace), time.monotonic()
        while not self.stop.wait(self.EVERY_S):
            written = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.out_dir, "*")) if os.path.isfile(p))
            elapsed = time.monotonic() - started
            try:
                if not written and elapsed > grace:
                    raise fetch_rejected("timeout", f"ffmpeg wrote no audio in {elapsed:.1f} s (a stalled or dripping server)")
                pace.check(written)
            except Rejected as exc:
                pid = _child_writing_to(self.out_dir)
                if pid is None:
                    continue  # not started yet, or finished meanwhile
                self.tripped = exc
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                return


def _child_writing_to(out_dir: str) -> Optional[int]:
    """The pid of this process's child whose command line names `out_dir` (the ffmpeg of a section)."""
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            pid = int(stat.split("/")[2])
            with open(stat) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != os.getpid():
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if out_dir.encode() in f.read():
                    return pid
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return None


def _params(opts: YoutubeOptions, remote: RemoteOptions, out_dir: str, ffmpeg: Optional[str],
            section: Optional[tuple[float, float]], cookies: Optional[str], logger: _Log) -> dict:
    from yt_dlp.utils import download_range_func

    params = {
        "format": opts.format,
        # A section is re-encoded, losslessly, into Matroska (below); the rest keeps its container.
        "outtmpl": {"default": os.path.join(out_dir, "audio.mka" if section else "audio.%(ext)s")},
        "noplaylist": True,
        "playlist_items": "1",  # a page with several media: its first one
        "logger": logger,
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "color": {"stdout": "never", "stderr": "never"},
        "cachedir": False,
        "overwrites": True,
        "continuedl": False,
        "socket_timeout": remote.timeout_s,
        # Whole tries are retried by RemoteOptions' loop; yt-dlp retries only inside a download.
        "retries": 0,
        "extractor_retries": 0,
        "fragment_retries": remote.retries,
        "max_filesize": remote.max_bytes,
        "ratelimit": opts.rate_limit,
        "sleep_interval": opts.sleep_s or None,
        "max_sleep_interval": opts.max_sleep_s,
        "sleep_interval_requests": opts.sleep_requests_s or None,
        "proxy": opts.proxy,
        "cookiefile": cookies,
    }
    if ffmpeg:
        params["ffmpeg_location"] = ffmpeg
        # ffmpeg reads sections itself and would wait forever on a stalled server.
        params["external_downloader_args"] = {"ffmpeg_i": ["-rw_timeout", str(int(remote.timeout_s * 1e6))]}
    if section is not None:
        params["download_ranges"] = download_range_func(None, [section])
        # Stream-copied sections start at the packet before the cut, and Ogg's even carry audio
        # from the file's start: cut exactly by decoding and re-encoding, as FLAC (lossless).
        params["force_keyframes_at_cuts"] = True
        params["external_downloader_args"]["ffmpeg_o"] = ["-vn", "-c:a", "flac"]
    return {k: v for k, v in params.items() if v is not None}


def download_audio(url: str, start_s: Optional[float], end_s: Optional[float], out_dir: str,
                   opts: YoutubeOptions, remote: RemoteOptions, cookies: Optional[str] = None) -> tuple[str, float]:
    """Downloads `url`'s audio into the empty folder `out_dir`.

    Returns (path, offset_s): the file and where in the source it begins. Raises Rejected.
    One try; the caller retries transient failures (remote.with_retries)."""
    import yt_dlp
    from yt_dlp.downloader.external import FFmpegFD

    ffmpeg = find_ffmpeg(opts.ffmpeg)
    section = None
    # yt-dlp cuts with the `ffmpeg_location` one, but picks its section downloader only if an ffmpeg
    # is on PATH (FFmpegFD.available ignores the option): without one, the whole file comes and
    # the decoder cuts it, rather than a section asked for and silently not cut.
    if opts.sections and ffmpeg and FFmpegFD.available() and (start_s or end_s is not None):
        section = (start_s or 0.0, math.inf if end_s is None else end_s)
    logger = _Log()
    slow = _SlowDownload(out_dir, remote)
    params = {**_params(opts, remote, out_dir, ffmpeg, section, cookies, logger), "progress_hooks": [slow.hook]}
    with yt_dlp.YoutubeDL(params) as ydl:
        try:
            info = ydl.extract_info(url, download=False)
        except (yt_dlp.utils.DownloadError, yt_dlp.utils.ExtractorError) as exc:
            raise classify_ytdlp_error(exc) from None
        if info.get("_type") == "playlist":
            entries = [e for e in (info.get("entries") or []) if e]
            if not entries:
                raise Rejected("extraction_failed", "the page lists no media")
            info = entries[0]
        if section is not None:
            slow.watch()
        try:
            ydl.process_ie_result(info, download=True)
        except Rejected:  # from the progress hook
            raise
        except (yt_dlp.utils.DownloadError, yt_dlp.utils.ExtractorError) as exc:
            if slow.tripped is not None:
                raise slow.tripped from None
            rejected = classify_ytdlp_error(exc)
            media_url = info.get("url")
            if rejected.reason in ("http_error", "network_error", "download_failed") and media_url and \
                    media_url.startswith(("http://", "https://")):
                # ffmpeg's exit code is vague: ask the media URL ourselves what is wrong with it.
                rejected = probe_http(media_url, info.get("http_headers") or {}, remote) or rejected
            raise rejected from None
        finally:
            slow.stop.set()
    if slow.tripped is not None:  # ffmpeg killed, yet yt-dlp took what it left for a finished file
        raise slow.tripped
    files = [p for p in glob.glob(os.path.join(out_dir, "audio.*")) if not p.endswith((".part", ".ytdl"))]
    if not files:
        if any("max-filesize" in m for m in logger.messages):
            raise Rejected("too_large", f"larger than max_bytes {remote.max_bytes}")
        raise fetch_rejected("download_failed", "yt-dlp wrote no file: " + " | ".join(logger.messages[-3:])[:400])
    path = files[0]
    if os.path.getsize(path) > remote.max_bytes:
        raise Rejected("too_large", f"{os.path.getsize(path)} bytes > max_bytes {remote.max_bytes}")
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if sniff(head) in (None, "html", "text"):
        raise Rejected("not_audio", f"the downloaded file is not audio (starts {head[:16]!r})")
    return path, (section[0] if section else 0.0)
