"""The build's audio store: each encoded clip's bytes, written once, content-addressed.

    <corpus>/.tunescribe/audio/<sha256[:2]>/<sha256>.<ext>

Audio travels through the pipeline by reference: the step that encodes a clip puts its bytes
here (atomically: temp file + rename, so a kill leaves either the whole file or none) and only
the clip's record (with `audio_sha256`, `audio_size`) flows on. Shard writers, model stages that
need the audio again, `tunescribe filter` and a resumed run read it back from here. The same
bytes always land at the same name, so a retried or repeated write is a no-op; the store of a
finished build holds exactly the candidates' audio (the rest is pruned when it finishes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io

import apache_beam as beam
import numpy as np
import soundfile as sf
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from tunescribe.transforms.sinks.files import list_files, read_bytes, write_bytes_atomically

AUDIO_STORE_DIR = "audio"  # under the output's work folder (.tunescribe/)


@dataclasses.dataclass(frozen=True)
class AudioStore:
    root: str

    def path(self, sha256: str, fmt: str) -> str:
        return f"{self.root.rstrip('/')}/{sha256[:2]}/{sha256}.{fmt}"

    def put(self, data: bytes, fmt: str) -> str:
        """Stores `data` (once) and returns its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256, fmt)
        if not FileSystems.exists(path):
            write_bytes_atomically(path, data)
        return sha256

    def get(self, sha256: str, fmt: str) -> bytes:
        return read_bytes(self.path(sha256, fmt))

    def has(self, sha256: str, fmt: str) -> bool:
        return FileSystems.exists(self.path(sha256, fmt))

    def all_files(self) -> list[str]:
        return [path for path, _ in list_files(f"{self.root.rstrip('/')}/*/*")]


def read_pcm(data: bytes) -> tuple[np.ndarray, int]:
    """Stored audio -> (float32 (channels, n), rate), for the model stages that listen again."""
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples.T), rate


class PruneAudioStore(beam.PTransform):
    """Applied to the manifest's path once the corpus is written: deletes from the store the audio
    no candidate refers to (clips rejected after they were encoded, temp files of killed writers).
    A keyed join, so no step holds the whole store's listing with every clip."""

    def __init__(self, store: AudioStore, candidates):
        super().__init__()
        self.store, self.candidates = store, candidates

    def expand(self, manifest):
        store = self.store
        on_disk = (manifest | "List" >> beam.FlatMap(lambda _: store.all_files())
                   | "OnDisk" >> beam.Map(lambda path: (path, True)))
        wanted = self.candidates | "Wanted" >> beam.Map(lambda c: (store.path(c.audio_sha256, c.audio_format), False))

        def unwanted(path, on_disk_or_wanted):
            marks = list(on_disk_or_wanted)
            return [path] if marks and all(marks) else []

        return (
            (on_disk, wanted) | "Flatten" >> beam.Flatten()
            | "ByPath" >> beam.GroupByKey()
            | "Unwanted" >> beam.FlatMapTuple(unwanted)
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=1000)
            | "Delete" >> beam.Map(lambda paths: _delete(paths))
        )


def _delete(paths: list[str]) -> int:
    try:
        FileSystems.delete(paths)
    except BeamIOError:
        pass  # gone already (another attempt of this step)
    return len(paths)
