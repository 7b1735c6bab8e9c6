"""Config sections for the inputs: manifests and folders, and how remote audio and YouTube are fetched."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import ByteSize, Field, field_validator, model_validator

from tunescribe.pipelines.config.base import Section, parse_size


class Columns(Section):
    """Manifest column names for each field; a row needs a `path` or a `youtube_id`.

    With a `preset`, the fields given here replace the preset's (see transforms/ingest/presets.py)."""

    path: Optional[str] = "path"
    id: Optional[str] = None
    track: Optional[str] = None
    artist: Optional[str] = None
    album: Optional[str] = None
    tags: list[str] = []
    licence: Optional[str] = None
    start: Optional[str] = None
    end: Optional[str] = None
    tag_separator: str = ","
    youtube_id: Optional[str] = None  # video ids, fetched with yt-dlp from youtube.url_template
    captions: list[str] = []  # human-written captions, kept as reference captions
    tag_flags: list[str] = []  # 0/1 tag-matrix columns ("*": every column not mapped above)
    trailing_tags: bool = False  # cells past the header's last one are tags (MTG-Jamendo)

    @field_validator("tags", "captions", "tag_flags", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v


class ManifestInput(Section):
    type: Literal["manifest"]
    path: str
    preset: Optional[Literal["musiccaps", "mtg-jamendo", "magnatagatune", "generic"]] = None
    format: Optional[Literal["csv", "tsv", "jsonl", "parquet"]] = None  # default: preset's, else extension
    # A longer line or CSV record is rejected (line_too_long) unread; default MAX_LINE_BYTES of
    # transforms/ingest/manifest.py (1 MiB); also "4MiB".
    max_line_bytes: Optional[ByteSize] = Field(None, ge=1024)
    audio_root: Optional[str] = None  # relative audio paths are under this; default: manifest's folder
    columns: Columns = Columns()
    licence: Optional[str] = None  # for rows without a licence column/value
    # Local audio must resolve (symlinks followed) inside audio_root or one of these folders, else
    # the row is rejected (path_outside_roots): a manifest cannot make the build read other files.
    allowed_roots: list[str] = []

    @model_validator(mode="after")
    def _has_audio_column(self):
        if self.preset is None and not (self.columns.path or self.columns.youtube_id):
            raise ValueError("columns: set `path` or `youtube_id` (the column that locates each row's audio)")
        return self

    def reading(self):
        """(format, ColumnMapping) for the reader: the preset's, with the given columns in place."""
        from tunescribe.transforms.ingest.presets import preset_mapping

        given = self.columns.model_dump(exclude_unset=self.preset is not None)
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
        fmt, columns = preset_mapping(self.preset or "generic", given)
        return self.format or fmt, columns


class FolderInput(Section):
    type: Literal["folder"]
    path: str
    extensions: Optional[list[str]] = None  # default: common audio extensions
    licence: Optional[str] = None
    allowed_roots: list[str] = []  # where symlinks in the folder may point (default: only inside it)


Input = Annotated[Union[ManifestInput, FolderInput], Field(discriminator="type")]


class RemoteConfig(Section):
    """Downloads of http(s):// and object-store audio (transforms/ingest/remote.py)."""

    timeout_s: float = Field(30.0, gt=0)  # connect timeout and longest wait for more bytes
    retries: int = Field(3, ge=0, le=20)  # further tries on timeouts, dropped connections, 5xx, 429
    backoff_s: float = Field(1.0, ge=0)  # first wait between tries, doubled each time
    max_backoff_s: float = Field(30.0, ge=0)
    max_bytes: int = Field(2**30, ge=1024)  # per download; also "200MiB"
    per_host: int = Field(4, ge=1)  # concurrent downloads per host and worker process
    min_bytes_per_s: float = Field(8192.0, ge=0)  # slower average (after timeout_s) is a slow drip: too_slow; 0: off
    temp_dir: Optional[str] = None  # where fetched audio waits for the decoder; default: system temp

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, v):
        return parse_size(v)


class YoutubeConfig(Section):
    """yt-dlp downloads: YouTube ids and any page yt-dlp reads (transforms/ingest/youtube.py)."""

    url_template: str = "https://www.youtube.com/watch?v={id}"  # video id column -> page URL
    format: str = "bestaudio/best"  # yt-dlp format selector
    sections: bool = True  # download only [start, end) of a ranged row (needs ffmpeg)
    ffmpeg: Optional[str] = None  # path to ffmpeg; default imageio-ffmpeg's, else the system's
    cookies: Optional[str] = None  # Netscape-format cookies file
    rate_limit: Optional[int] = Field(None, ge=1)  # bytes/s per download; also "2MiB"
    sleep_s: float = Field(0.0, ge=0)  # pause before each download
    max_sleep_s: Optional[float] = Field(None, ge=0)  # with sleep_s: a random pause in [sleep_s, max_sleep_s]
    sleep_requests_s: float = Field(0.0, ge=0)  # pause between the page requests of one extraction
    proxy: Optional[str] = None  # e.g. socks5://127.0.0.1:1080

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _size(cls, v):
        return parse_size(v)

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
