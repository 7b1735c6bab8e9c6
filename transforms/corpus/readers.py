"""Reading a written corpus back (tables, shards, samples, JSON files) through Beam's FileSystems,
so `validate`, `inspect`, `filter`, the report and the evaluation work on gs:// or s3:// corpora as
well as local ones. Where each part lives: schemas/layout.py."""

from __future__ import annotations

import json
import tarfile
from typing import BinaryIO, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas.layout import CLIPS_DIR, join, sample_key
from tunescribe.transforms.sinks.files import list_files, read_bytes

BLOCK = tarfile.BLOCKSIZE


def open_binary(path: str) -> BinaryIO:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_json(path: str) -> dict:
    return json.loads(read_bytes(path))


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def clip_table_files(corpus: str) -> list[tuple[str, int]]:
    return list_files(join(corpus, CLIPS_DIR, "*.parquet"))


def read_table(path: str, columns: Optional[list[str]] = None) -> pa.Table:
    # Decoded in this thread: an Arrow pool thread that last held a Python object (a file, a
    # buffer) takes the GIL to let it go, and one doing so while the interpreter exits aborts the
    # process ("terminate called without an active exception"): `validate` did in ~4 runs of 10.
    return pq.read_table(pa.BufferReader(read_bytes(path)), columns=columns, use_threads=False, pre_buffer=False)


def iter_clip_tables(corpus: str, columns: Optional[list[str]] = None) -> Iterator[tuple[str, pa.Table]]:
    """(path, table) for each clip-table file, in file-name order (one shard's rows at a time)."""
    for path, _ in clip_table_files(corpus):
        yield path, read_table(path, columns)


class TarDamage(Exception):
    """A shard that cannot be read to its end; `offset` is where reading failed."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


def iter_tar(f: BinaryIO) -> Iterator[tuple[int, str, bytes]]:
    """(header offset, member name, data) for each member of a tar read from its start.

    Raises TarDamage with the byte where it went wrong for a file that ends early (inside a
    header, inside a member's data, or without the end-of-archive blocks) or has a bad header.
    """
    pos = 0
    while True:
        header = f.read(BLOCK)
        if len(header) < BLOCK:
            raise TarDamage("the file ends without the tar end-of-archive marker"
                            + (f" (cut inside a header at byte {pos})" if header else ""), pos)
        if header == bytes(BLOCK):
            if f.read(BLOCK) != bytes(BLOCK):
                raise TarDamage("the end-of-archive marker is cut short", pos)
            return
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise TarDamage(f"unreadable tar header at byte {pos}: {exc}", pos) from None
        padded = -(-info.size // BLOCK) * BLOCK
        data = f.read(info.size)
        if len(data) < info.size:
            raise TarDamage(f"member {info.name!r} is cut: {len(data)} of its {info.size} bytes are there", pos)
        if len(f.read(padded - info.size)) < padded - info.size:
            raise TarDamage(f"member {info.name!r} lacks its end padding", pos)
        yield pos, info.name, data
        pos += BLOCK + padded


def read_sample(shard_path: str, offset: int, key: str) -> dict[str, bytes]:
    """The members of sample `key`, whose first header is at `offset` in the shard (the clip
    table's shard_offset), read without scanning the rest of the shard."""
    members = {}
    with open_binary(shard_path) as f:
        f.seek(offset)
        while True:
            header = f.read(BLOCK)
            if len(header) < BLOCK or header == bytes(BLOCK):
                break
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
            if sample_key(info.name) != key:
                break
            members[info.name] = f.read(info.size)
            f.read(-(-info.size // BLOCK) * BLOCK - info.size)
    return members
