"""Keeps each input's local audio inside the folders it may read: the ingest stage's path check.

A manifest is data, often from elsewhere: a row naming `/etc/passwd`, `../../home/me/.ssh/id_rsa`
or a symlink pointing out of the dataset must not make the pipeline read that file into a corpus.
So a local path an input yields must resolve — symlinks followed, `..` collapsed — inside one of
that input's roots: a manifest's `audio_root` (default: the manifest's own folder), a folder
input's folder, plus the input's `allowed_roots` from the config. Anything else is rejected
(`path_outside_roots`) before it is opened, and so is anything there that is not a regular file
(`not_a_file`: a folder, a FIFO, a device). Remote URIs (http(s)://, gs://, ...) are not local
files and pass unchanged; the fetch stage handles them.
"""

from __future__ import annotations

import os
from typing import Iterable

import apache_beam as beam

from tunescribe.schemas import SourceItem
from tunescribe.transforms.stage import Rejected

FILE_SCHEME = "file://"


def local_path(uri: str) -> str | None:
    """The file system path of a local URI (plain path or file://), None for a remote one."""
    if uri.startswith(FILE_SCHEME):
        return uri[len(FILE_SCHEME):]
    return None if "://" in uri else uri


def is_local(uri: str) -> bool:
    return local_path(uri) is not None


def is_inside(path: str, roots: Iterable[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class KeepInsideRoots(beam.DoFn):
    """SourceItem -> the same item if its local audio path resolves inside `roots`; else rejected."""

    def __init__(self, roots: Iterable[str]):
        self.roots = tuple(roots)

    def setup(self):
        # Resolved on the worker, where the files are: a root that is itself a symlink counts as
        # the folder it points to.
        self.real_roots = tuple(os.path.realpath(r) for r in self.roots if local_path(r) is not None)

    def process(self, item: SourceItem):
        path = local_path(item.uri)
        if path is not None:
            if "\x00" in path:
                raise Rejected("bad_path", "the path contains a NUL character")
            if not self.real_roots or not is_inside(path, self.real_roots):
                allowed = ", ".join(self.real_roots) or "none (the input is remote)"
                raise Rejected("path_outside_roots",
                               f"{path!r} resolves to {os.path.realpath(path)!r}, outside the input's roots "
                               f"({allowed}); add its folder to the input's allowed_roots to read it")
            # A folder, FIFO or device is no audio file (and opening a FIFO would wait for ever).
            # A missing file goes on: the decoder reports it (missing_file).
            if os.path.exists(path) and not os.path.isfile(path):
                raise Rejected("not_a_file", f"{path!r} is not a regular file")
        yield item
