"""Reads CSV / TSV / JSONL / Parquet manifests lazily, one row at a time, into source items.

`ReadManifest` streams rows out of a manifest, local or remote (http(s)://, gs://, s3://... via
fsspec), compressed or not, never holding more than one line of at most `max_line_bytes` (a
longer one is read past and rejected: `bounded_lines`) or, for Parquet, one record batch of a row
group whose footer says it decompresses to a bounded size. `ParseManifestRow` turns one row into
a `SourceItem` through a column mapping (presets.py has the mappings of known datasets). A row
that cannot be used becomes a reject naming the manifest and row number; the rest still lands.

A row's audio is a path/URL (`path` column) or a video id (`youtube_id` column, made a URL with
the YouTube options' url_template). Human-written captions (`captions` columns) are kept as
reference captions: Caption(task="reference", backend="human", prompt_id=<the column>,
prompt_version=""), never as pseudo-captions.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import itertools
import json
import posixpath
from typing import Optional
from urllib.parse import quote

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas import Caption, SourceItem
from tunescribe.transforms.ingest.remote import open_remote
from tunescribe.transforms.ingest.roots import is_local
from tunescribe.transforms.ingest.settings import ColumnMapping, YoutubeOptions
from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field
from tunescribe.transforms.stage import Rejected

FORMATS = ("csv", "tsv", "jsonl", "parquet")
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zstd", ".deflate")
PARQUET_BATCH_ROWS = 4096
# The longest manifest line (a CSV record, a JSONL row) read, in bytes; manifest.max_line_bytes sets it.
MAX_LINE_BYTES = 2**20
# pyarrow decompresses a Parquet page whole and a page holds whole cells, so only the column chunk's
# size in the footer bounds a cell before it is read: a chunk may hold this many lines' worth.
PARQUET_CHUNK_LINES = 256
_READ_BYTES = 2**16
REFERENCE_TASK, REFERENCE_BACKEND = "reference", "human"
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
# The longest value a mapped cell may hold (ids, titles, tags, captions). Longer ones are a broken
# or hostile manifest, not metadata: the row is rejected rather than carried into every table,
# shard and report. csv's own limit (131072) rejects still longer cells of any column the same way.
MAX_CELL_CHARS = 65536
_UTF16_32 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)  # UTF-32-LE starts as UTF-16-LE


def manifest_format(path: str) -> str:
    path = path.lower()
    if path.endswith(COMPRESSED):
        path = posixpath.splitext(path)[0]
    ext = posixpath.splitext(path)[1].lstrip(".")
    return {"json": "jsonl", "ndjson": "jsonl", "txt": "tsv", "pq": "parquet"}.get(ext, ext)


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    """One raw row: a dict of cells, or the undecodable text of a JSON line."""

    manifest_uri: str
    row_number: int  # 1-based, header excluded
    cells: Optional[dict]
    raw: str = ""
    error: tuple[str, str] = ()  # (reason, detail) of a row the reader could not split into cells

    @property
    def source_id(self) -> str:
        return f"{self.manifest_uri}#{self.row_number}"

    input_uri = property(lambda self: self.manifest_uri)
    key = property(lambda self: None)
    clip_index = property(lambda self: None)


def _open_manifest(uri: str):
    """Local files through Beam's FileSystems, URLs through fsspec; both stream."""
    if is_local(uri):
        if not FileSystems.exists(uri):
            raise Rejected("missing_manifest", f"manifest not found: {uri}")
        if uri.lower().endswith(COMPRESSED):  # fsspec's decompressors are file objects TextIOWrapper takes
            return open_remote(uri).open()
        return FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED)
    try:
        return open_remote(uri).open()
    except FileNotFoundError:
        raise Rejected("missing_manifest", f"manifest not found: {uri}") from None
    except (ImportError, ValueError) as exc:  # no fsspec filesystem for this scheme
        raise Rejected("unsupported_manifest", f"cannot open {uri}: {exc}") from None


def bounded_lines(raw, limit: int):
    """The lines of the binary stream `raw`, each with its newline; a line over `limit` bytes comes
    as None, read past in chunks and never held whole (a 2 GiB line costs `limit` bytes, not 2 GiB).
    A buffer of our own: not every stream's readline takes a size (fsspec's HTTP files do not)."""
    buffered = io.BufferedReader(raw, _READ_BYTES)
    while line := buffered.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := buffered.readline(_READ_BYTES)) and not rest.endswith(b"\n"):
                pass
            line = None
        yield line


class LineTooLong(csv.Error):
    def __init__(self, limit: int):
        super().__init__(f"a line or record over {limit} bytes (manifest.max_line_bytes); not read")


class _CsvLines:
    """csv's input: the decoded lines, a record's bytes counted (a quoted cell may span lines).
    A line or record over the limit raises LineTooLong; csv starts afresh at its next call, and a
    record cut short inside a quoted cell is read past to its closing quote first."""

    def __init__(self, lines, limit: int):
        self.lines, self.limit = lines, limit
        self.record_bytes = self.record_quotes = 0  # zeroed by the reader at each record
        self.in_cut_record = False

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        while self.in_cut_record:
            self.in_cut_record ^= line is not None and line.count(b'"') % 2 == 1
            line = next(self.lines)
        if line is not None:
            self.record_bytes += len(line)
            self.record_quotes += line.count(b'"')
        if line is None or self.record_bytes > self.limit:
            self.in_cut_record = self.record_quotes % 2 == 1
            raise LineTooLong(self.limit)
        return line.decode("utf-8", "surrogateescape")


def _parquet_rows(uri: str, raw, max_line_bytes: int):
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(raw)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise Rejected("bad_manifest", f"not a readable Parquet file: {exc}") from None
    n, most = 0, PARQUET_CHUNK_LINES * max_line_bytes
    for g in range(reader.num_row_groups):
        group = reader.metadata.row_group(g)
        size, column = max(((group.column(c).total_uncompressed_size, group.column(c).path_in_schema)
                            for c in range(group.num_columns)), default=(0, ""))
        if size > most:  # each of its rows is a reject: which one holds the big cell is not known unread
            error = ("field_too_long", f"row group {g}: column {column!r} decompresses to {size} bytes (at most "
                     f"{most}: {PARQUET_CHUNK_LINES} x manifest.max_line_bytes); write smaller row groups or raise it")
            for n in range(n + 1, n + group.num_rows + 1):
                yield ManifestRow(uri, n, None, error=error)
            continue
        for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[g]):
            for cells in batch.to_pylist():
                n += 1
                yield ManifestRow(uri, n, cells)


class ReadManifest(beam.DoFn):
    """manifest URI -> ManifestRow per data row, streamed."""

    def __init__(self, fmt: Optional[str] = None, max_line_bytes: Optional[int] = None):
        self.fmt = fmt
        self.max_line_bytes = int(max_line_bytes or MAX_LINE_BYTES)

    def process(self, uri: str):
        fmt = self.fmt or manifest_format(uri)
        if fmt not in FORMATS:
            raise Rejected("unsupported_manifest", f"unknown manifest format {fmt!r} (use one of {FORMATS})")
        with _open_manifest(uri) as raw:
            if fmt == "parquet":
                yield from _parquet_rows(uri, raw, self.max_line_bytes)
                return
            lines = bounded_lines(raw, self.max_line_bytes)
            first = next(lines, b"")
            if first is not None and first.startswith(_UTF16_32):
                raise Rejected("bad_encoding", "the manifest is UTF-16 or UTF-32; manifests must be UTF-8")
            # A UTF-8 byte-order mark is not part of the first column's name.
            lines = itertools.chain([first and first.removeprefix(codecs.BOM_UTF8)], lines)
            if fmt == "jsonl":
                for n, line in enumerate(lines, start=1):
                    if line is None:
                        yield ManifestRow(uri, n, None, error=("line_too_long", str(LineTooLong(self.max_line_bytes))))
                    elif line.strip():
                        # surrogateescape: a byte that is not UTF-8 spoils its row only, not the whole manifest.
                        yield ManifestRow(uri, n, None, line.decode("utf-8", "surrogateescape"))
            else:
                yield from _csv_rows(uri, _CsvLines(lines, self.max_line_bytes), "\t" if fmt == "tsv" else ",")


def _csv_rows(uri: str, lines: _CsvLines, delimiter: str):
    """Rows of a CSV/TSV; a row csv cannot split (a cell over its field limit, a line over ours...)
    becomes an error row, and reading goes on with the next one."""
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        header = reader.fieldnames
    except LineTooLong as exc:
        raise Rejected("line_too_long", f"header: {exc}") from None
    if any(map(_has_bad_bytes, header or ())):
        raise Rejected("bad_encoding", "the manifest's header is not UTF-8")
    n = 0
    while True:
        n += 1
        lines.record_bytes = lines.record_quotes = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = "line_too_long" if isinstance(exc, LineTooLong) else \
                "field_too_long" if "field larger than field limit" in str(exc) else "bad_manifest_row"
            yield ManifestRow(uri, n, None, error=(reason, str(exc)))
            continue
        yield ManifestRow(uri, n, cells)


def _is_set(value) -> bool:
    return value is True or (value is not False and str(value).strip().lower() in _TRUE)


def _has_bad_bytes(value) -> bool:
    return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)


def _chars(value) -> int:
    """The length of a cell as text (a list cell: of all its items)."""
    if value is None:
        return 0
    if isinstance(value, (list, tuple)):
        return sum(map(_chars, value))
    return len(value) if isinstance(value, str) else len(str(value))


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
    if "://" in audio_root:  # a URL root (http(s)://, gs://...): Beam may have no filesystem for it
        return audio_root.rstrip("/") + "/" + path
    return FileSystems.join(audio_root, path)


class ParseManifestRow(beam.DoFn):
    """ManifestRow -> SourceItem, via a ColumnMapping; unusable rows are rejected with a reason."""

    def __init__(self, columns: ColumnMapping, audio_root: str, input_index: int,
                 licence: Optional[str] = None, video_url: str = YoutubeOptions().url_template):
        self.columns = columns
        self.audio_root = audio_root
        self.input_index = input_index
        self.licence = licence
        self.video_url = video_url

    def _raw_tags(self, cells: dict) -> list[str]:
        c = self.columns
        raw = [t for column in c.tags for t in split_tag_field(cells.get(column), c.tag_separator)]
        if c.trailing_tags:
            raw += [t for t in cells.get(None) or () if t]
        if c.tag_flags:
            flags = c.tag_flags
            if "*" in flags:
                mapped = c.mapped()
                flags = [k for k in cells if k is not None and k not in mapped]
            raw += [column for column in flags if _is_set(cells.get(column))]
        return raw

    def process(self, row: ManifestRow):
        if row.error:
            raise Rejected(*row.error)
        cells = row.cells
        if cells is None:
            try:
                cells = json.loads(row.raw)
            except ValueError as exc:
                raise Rejected("bad_manifest_row", f"not valid JSON: {exc}") from None
            if not isinstance(cells, dict):
                raise Rejected("bad_manifest_row", "a JSONL row must be an object")
        c = self.columns
        if None in cells and not c.trailing_tags:  # csv.DictReader puts surplus cells under None
            raise Rejected("bad_manifest_row", f"row has {len(cells[None])} more cells than the header")
        if any(_has_bad_bytes(v) or isinstance(v, list) and any(map(_has_bad_bytes, v)) for v in cells.values()):
            raise Rejected("bad_encoding", "row is not valid UTF-8")
        for column in sorted(c.mapped() | ({None} if c.trailing_tags else set()), key=str):
            if (size := _chars(cells.get(column))) > MAX_CELL_CHARS:
                raise Rejected("field_too_long", f"column {column!r} holds {size} characters (at most {MAX_CELL_CHARS})")
        path = _optional_str(cells, c.path)
        video = _optional_str(cells, c.youtube_id)
        if path is None and video is None:
            where = " or ".join(repr(col) for col in (c.path, c.youtube_id) if col)
            raise Rejected("bad_manifest_row", f"no audio path or video id in column {where}")
        start = _optional_seconds(cells, c.start, "start")
        end = _optional_seconds(cells, c.end, "end")
        if start is not None and end is not None and end <= start:
            raise Rejected("bad_time_range", f"end {end} is not after start {start}")
        uri = resolve_audio_path(path, self.audio_root) if path is not None else \
            self.video_url.format(id=quote(video, safe=""))
        captions = tuple(
            Caption(text=text, task=REFERENCE_TASK, backend=REFERENCE_BACKEND, prompt_id=column, prompt_version="")
            for column in c.captions if (text := _optional_str(cells, column)) is not None
        )
        yield SourceItem(
            source_id=_optional_str(cells, c.id) or path or video,
            uri=uri,
            captions=captions,
            input_uri=row.manifest_uri,
            order=(self.input_index, row.row_number),
            track_id=_optional_str(cells, c.track),
            artist_id=_optional_str(cells, c.artist),
            album_id=_optional_str(cells, c.album),
            tags=normalise_tags(self._raw_tags(cells)),
            licence=_optional_str(cells, c.licence) or self.licence,
            start_s=start,
            end_s=end,
        )
