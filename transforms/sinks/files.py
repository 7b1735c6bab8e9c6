"""Atomic file writes through Beam's filesystems (local, gs://, s3://...): temp name, then rename."""

from __future__ import annotations

import uuid

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

# Temp files carry this marker, so a cleanup can tell a killed writer's leftovers from real files.
TMP_MARK = ".tmp-"


def write_atomically(path: str, write) -> None:
    """Calls `write(fileobj)` on a temp file beside `path`, then renames it to `path`.

    A reader (or a rerun after a crash) sees either the old file, no file, or the whole new one.
    The temp name is unique, so two attempts at the same file (a runner retrying a bundle, or
    running it twice speculatively) never write into each other.
    """
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex[:12]}"
    try:
        with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            write(f)
    except BaseException:
        # A failed write (disk full, killed) must not leave its partial bytes taking up space.
        try:
            FileSystems.delete([tmp])
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        raise
    try:
        FileSystems.rename([tmp], [path])  # replaces `path` in one step where the filesystem can
    except BeamIOError:
        # Filesystems whose rename refuses an existing target: clear it first.
        FileSystems.delete([path])
        FileSystems.rename([tmp], [path])


def write_bytes_atomically(path: str, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def list_files(pattern: str) -> list[tuple[str, int]]:
    """(path, size) of every file matching a glob, sorted by path; none if the folder is absent."""
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except BeamIOError:
        return []
    return sorted((m.path, m.size_in_bytes) for m in found)
