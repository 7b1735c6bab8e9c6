"""Config sections for the inputs: manifests and folders. How remote audio and YouTube are fetched
are the fetch stage's own settings (transforms/ingest: RemoteOptions, YoutubeOptions)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import ByteSize, Field, model_validator

from tunescribe.pipelines.config.base import Section
from tunescribe.transforms.ingest.presets import preset_mapping
from tunescribe.transforms.ingest.settings import ColumnMapping


class ManifestInput(Section):
    type: Literal["manifest"]
    path: str
    preset: Optional[Literal["musiccaps", "mtg-jamendo", "magnatagatune", "generic"]] = None
    format: Optional[Literal["csv", "tsv", "jsonl", "parquet"]] = None  # default: preset's, else extension
    # A longer line or CSV record is rejected (line_too_long) unread; default MAX_LINE_BYTES of
    # transforms/ingest/manifest.py (1 MiB); also "4MiB".
    max_line_bytes: Optional[ByteSize] = Field(None, ge=1024)
    audio_root: Optional[str] = None  # relative audio paths are under this; default: manifest's folder
    columns: ColumnMapping = ColumnMapping()
    licence: Optional[str] = None  # for rows without a licence column/value
    # Local audio must resolve (symlinks followed) inside audio_root or one of these folders, else
    # the row is rejected (path_outside_roots): a manifest cannot make the build read other files.
    allowed_roots: list[str] = []

    @model_validator(mode="after")
    def _has_audio_column(self):
        if self.preset is None and not (self.columns.path or self.columns.youtube_id):
            raise ValueError("columns: set `path` or `youtube_id` (the column that locates each row's audio)")
        return self

    def reading(self) -> tuple[Optional[str], ColumnMapping]:
        """(format, columns) for the reader: the preset's, with the given columns in place."""
        if self.preset is None:
            return self.format, self.columns
        fmt, columns = preset_mapping(self.preset, self.columns)
        return self.format or fmt, columns


class FolderInput(Section):
    type: Literal["folder"]
    path: str
    extensions: Optional[list[str]] = None  # default: common audio extensions
    licence: Optional[str] = None
    allowed_roots: list[str] = []  # where symlinks in the folder may point (default: only inside it)


Input = Annotated[Union[ManifestInput, FolderInput], Field(discriminator="type")]
