"""Reads CSV / TSV / JSONL manifests lazily, one row at a time, into source items.

`ReadManifest` streams rows out of a manifest (never loading it whole); `ParseManifestRow`
turns one row into a `SourceItem` through a column mapping. A row that cannot be used becomes a
reject naming the manifest and row number; the rest of the manifest still lands.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import posixpath
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas import SourceItem
from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field
from tunescribe.transforms.stage import Rejected

FORMATS = ("csv", "tsv", "jsonl")


def manifest_format(path: str) -> str:
    ext = posixpath.splitext(path.lower())[1].lstrip(".")
    return {"json": "jsonl", "ndjson": "jsonl", "txt": "tsv"}.get(ext, ext)


@dataclasses.dataclass(frozen=True)
class ColumnMapping:
    """Which manifest column holds which field. Only `path` is required."""

    path: str = "path"
    id: Optional[str] = None  # default: the path as written in the manifest
    track: Optional[str] = None
    artist: Optional[str] = None
    album: Optional[str] = None
    tags: tuple[str, ...] = ()  # one or more columns; each a list or a separated string
    licence: Optional[str] = None
    start: Optional[str] = None
    end: Optional[str] = None
    tag_separator: str = ","


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    """One raw row: a dict of cells, or the undecodable text of a JSON line."""

    manifest_uri: str
    row_number: int  # 1-based, header excluded
    cells: Optional[dict]
    raw: str = ""

    @property
    def source_id(self) -> str:
        return f"{self.manifest_uri}#{self.row_number}"

    input_uri = property(lambda self: self.manifest_uri)
    key = property(lambda self: None)
    clip_index = property(lambda self: None)


class ReadManifest(beam.DoFn):
    """manifest URI -> ManifestRow per data row, streamed."""

    def __init__(self, fmt: Optional[str] = None):
        self.fmt = fmt

    def process(self, uri: str):
        fmt = self.fmt or manifest_format(uri)
        if fmt not in FORMATS:
            raise Rejected("unsupported_manifest", f"unknown manifest format {fmt!r} (use one of {FORMATS})")
        if not FileSystems.exists(uri):
            raise Rejected("missing_manifest", f"manifest not found: {uri}")
        with FileSystems.open(uri, compression_type=CompressionTypes.AUTO) as raw:
            # surrogateescape: a byte that is not UTF-8 spoils its row only, not the whole manifest.
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
            if fmt == "jsonl":
                for n, line in enumerate(text, start=1):
                    if line.strip():
                        yield ManifestRow(uri, n, None, line)
            else:
                reader = csv.DictReader(text, delimiter="\t" if fmt == "tsv" else ",")
                for n, cells in enumerate(reader, start=1):
                    yield ManifestRow(uri, n, cells)


def _has_bad_bytes(value) -> bool:
    return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)


def _optional_str(cells: dict, column: Optional[str]) -> Optional[str]:
    if not column:
        return None
    value = cells.get(column)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


def _optional_seconds(cells: dict, column: Optional[str], what: str) -> Optional[float]:
    text = _optional_str(cells, column)
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise Rejected("bad_time_range", f"{what} {text!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise Rejected("bad_time_range", f"{what} {text!r} must be a finite number >= 0")
    return seconds


def resolve_audio_path(path: str, audio_root: str) -> str:
    if "://" in path or posixpath.isabs(path):
        return path
    return FileSystems.join(audio_root, path)


class ParseManifestRow(beam.DoFn):
    """ManifestRow -> SourceItem, via a ColumnMapping; unusable rows are rejected with a reason."""

    def __init__(self, columns: ColumnMapping, audio_root: str, input_index: int,
                 licence: Optional[str] = None):
        self.columns = columns
        self.audio_root = audio_root
        self.input_index = input_index
        self.licence = licence

    def process(self, row: ManifestRow):
        cells = row.cells
        if cells is None:
            try:
                cells = json.loads(row.raw)
            except ValueError as exc:
                raise Rejected("bad_manifest_row", f"not valid JSON: {exc}") from None
            if not isinstance(cells, dict):
                raise Rejected("bad_manifest_row", "a JSONL row must be an object")
        if None in cells:  # csv.DictReader puts surplus cells under the key None
            raise Rejected("bad_manifest_row", f"row has {len(cells[None])} more cells than the header")
        if any(_has_bad_bytes(v) for v in cells.values()):
            raise Rejected("bad_encoding", "row is not valid UTF-8")
        c = self.columns
        path = _optional_str(cells, c.path)
        if path is None:
            raise Rejected("bad_manifest_row", f"no audio path in column {c.path!r}")
        start = _optional_seconds(cells, c.start, "start")
        end = _optional_seconds(cells, c.end, "end")
        if start is not None and end is not None and end <= start:
            raise Rejected("bad_time_range", f"end {end} is not after start {start}")
        raw_tags = [t for column in c.tags for t in split_tag_field(cells.get(column), c.tag_separator)]
        yield SourceItem(
            source_id=_optional_str(cells, c.id) or path,
            uri=resolve_audio_path(path, self.audio_root),
            input_uri=row.manifest_uri,
            order=(self.input_index, row.row_number),
            track_id=_optional_str(cells, c.track),
            artist_id=_optional_str(cells, c.artist),
            album_id=_optional_str(cells, c.album),
            tags=normalise_tags(raw_tags),
            licence=_optional_str(cells, c.licence) or self.licence,
            start_s=start,
            end_s=end,
        )
