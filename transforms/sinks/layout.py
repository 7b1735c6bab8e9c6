"""Where each part of a corpus lives, and how to read parts of it back.

    <corpus>/shards/<name>-<split>-000000.tar   WebDataset shards, one series per split
    <corpus>/clips/<name>-<split>-000000.parquet  the clip table, one file per shard
    <corpus>/rejects.parquet                    everything that did not make it, with stage + reason
    <corpus>/dropped_captions.parquet           every caption the decisions took off a clip, with its rule
    <corpus>/<split>.wids.json                  wids shard index per split (url, md5sum, nsamples, filesize)
    <corpus>/stats.json  README.md  report.html  SHA256SUMS
    <corpus>/manifest.json                      written last: the build finished; every file, size and sha256
    <corpus>/.tunescribe/                       resume ledger; not part of the corpus

Readers here go through Beam's FileSystems, so `validate`, `inspect` and the report work on
gs:// or s3:// corpora as well as local ones.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import BinaryIO, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tunescribe.transforms.sinks.files import list_files, read_bytes

SHARDS_DIR = "shards"
CLIPS_DIR = "clips"
REJECTS_FILE = "rejects.parquet"
DROPPED_CAPTIONS_FILE = "dropped_captions.parquet"
STATS_FILE = "stats.json"
CARD_FILE = "README.md"
REPORT_FILE = "report.html"
CHECKSUMS_FILE = "SHA256SUMS"
MANIFEST_FILE = "manifest.json"
WORK_DIR = ".tunescribe"
COMMITTED_SHARDS_DIR = f"{WORK_DIR}/shards"  # a marker per written shard: its sha256 and size
PROGRESS_FILE = f"{WORK_DIR}/progress.json"  # this run's totals for the progress line
WIDS_SUFFIX = ".wids.json"
MANIFEST_SCHEMA = "tunescribe.manifest/1"

BLOCK = tarfile.BLOCKSIZE


def shard_name(name: str, split: str, number: int) -> str:
    return f"{name}-{split}-{number:06d}.tar"


def table_name(shard: str) -> str:
    """The clip-table file of a shard."""
    return shard.removesuffix(".tar") + ".parquet"


def wids_index_name(split: str) -> str:
    return f"{split}{WIDS_SUFFIX}"


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def sample_key(member_name: str) -> str:
    """WebDataset's grouping rule: a member belongs to the sample named by its path up to the
    first dot of the file name."""
    folder, _, base = member_name.rpartition("/")
    return (folder + "/" if folder else "") + base.split(".", 1)[0]


def open_binary(path: str) -> BinaryIO:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_json(path: str) -> dict:
    return json.loads(read_bytes(path))


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def clip_table_files(corpus: str) -> list[tuple[str, int]]:
    return list_files(join(corpus, CLIPS_DIR, "*.parquet"))


def read_table(path: str, columns: Optional[list[str]] = None) -> pa.Table:
    return pq.read_table(io.BytesIO(read_bytes(path)), columns=columns)


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
