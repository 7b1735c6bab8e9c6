"""Atomic file writes through Beam's filesystems (local, gs://, s3://...): temp name, then rename."""

from __future__ import annotations

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


def write_atomically(path: str, write) -> None:
    """Calls `write(fileobj)` on `path + '.tmp'`, then renames it to `path`.

    A reader (or a rerun after a crash) sees either the old file, no file, or the whole new one.
    """
    tmp = path + ".tmp"
    with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        write(f)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_bytes_atomically(path: str, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))
