"""The ingest stage's settings, embedded by the build config as they are: the manifests'
`columns`, and how remote audio (`remote`) and yt-dlp pages (`youtube`) are fetched. Kept apart
from the readers and fetchers, which import Beam: reading a config must not."""

from __future__ import annotations

from typing import Optional

from pydantic import ByteSize, Field, field_validator, model_validator

from tunescribe.transforms.settings import Settings


class ColumnMapping(Settings):
    """Which manifest column holds which field (the config's `columns`); a row needs a `path` or a
    `youtube_id`. With a preset, the fields given replace the preset's (presets.py)."""

    path: Optional[str] = "path"
    id: Optional[str] = None  # default: the path as written in the manifest
    track: Optional[str] = None
    artist: Optional[str] = None
    album: Optional[str] = None
    tags: tuple[str, ...] = ()  # one or more columns; each a list or a separated string
    licence: Optional[str] = None
    start: Optional[str] = None
    end: Optional[str] = None
    tag_separator: str = ","
    youtube_id: Optional[str] = None  # a video id: the audio is fetched with yt-dlp from youtube.url_template
    captions: tuple[str, ...] = ()  # human-written captions, kept as reference captions
    # Binary tag-matrix columns (MagnaTagATune): the column's name is a tag of rows whose cell is
    # 1/true. "*" = every column not mapped to another field.
    tag_flags: tuple[str, ...] = ()
    trailing_tags: bool = False  # cells past the header's last column are tags (MTG-Jamendo TSV)

    @field_validator("tags", "captions", "tag_flags", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return (v,) if isinstance(v, str) else v

    def mapped(self) -> set:
        single = (self.path, self.id, self.track, self.artist, self.album, self.licence, self.start,
                  self.end, self.youtube_id)
        return {c for c in single if c} | set(self.tags) | set(self.captions)


class RemoteOptions(Settings):
    """Downloads of http(s):// and object-store audio (the config's `remote` section)."""

    timeout_s: float = Field(30.0, gt=0)  # connect timeout, and longest wait for the next bytes of an answer
    retries: int = Field(3, ge=0, le=20)  # further tries on timeouts, slow drips, dropped connections, 5xx, 429
    backoff_s: float = Field(1.0, ge=0)  # first wait between tries; doubles each time (with jitter)
    max_backoff_s: float = Field(30.0, ge=0)
    max_bytes: ByteSize = Field(2**30, ge=1024)  # per download; also "200MiB"
    per_host: int = Field(4, ge=1)  # concurrent downloads per host, per worker process
    # average body rate a download must keep once timeout_s has passed (slower: too_slow); 0: off
    min_bytes_per_s: float = Field(8192.0, ge=0)
    temp_dir: Optional[str] = None  # where fetched audio waits for the decoder; default: system temp


class YoutubeOptions(Settings):
    """yt-dlp downloads: YouTube ids and any page yt-dlp reads (the config's `youtube` section)."""

    url_template: str = "https://www.youtube.com/watch?v={id}"  # a manifest's video id -> page URL
    format: str = "bestaudio/best"  # yt-dlp format selector
    sections: bool = True  # download only [start_s, end_s) of a ranged row when ffmpeg is there
    ffmpeg: Optional[str] = None  # path; default imageio-ffmpeg's, else `ffmpeg` on PATH
    cookies: Optional[str] = None  # Netscape cookies file (copied: yt-dlp rewrites its cookie file)
    rate_limit: Optional[ByteSize] = Field(None, ge=1)  # bytes per second per download; also "2MiB"
    sleep_s: float = Field(0.0, ge=0)  # before each download; random up to max_sleep_s if that is set
    max_sleep_s: Optional[float] = Field(None, ge=0)
    sleep_requests_s: float = Field(0.0, ge=0)  # between the page requests of one extraction
    proxy: Optional[str] = None  # e.g. socks5://127.0.0.1:1080

    @field_validator("url_template")
    @classmethod
    def _has_id(cls, v):
        if "{id}" not in v or "://" not in v:
            raise ValueError("must be a URL with an {id} placeholder, e.g. https://www.youtube.com/watch?v={id}")
        try:
            v.format(id="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{id}} may be a placeholder ({exc})") from None
        return v

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, v):
        if v is not None and v.split("://", 1)[0] not in ("http", "https", "socks4", "socks4a", "socks5", "socks5h"):
            raise ValueError("must be an http(s):// or socks4/5:// URL")
        return v

    @model_validator(mode="after")
    def _sleeps(self):
        if self.max_sleep_s is not None and self.max_sleep_s < self.sleep_s:
            raise ValueError("max_sleep_s must be at least sleep_s")
        return self
