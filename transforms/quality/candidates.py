"""The stats store: every clip that reached the quality decisions, as it was before them.

`<corpus>/.tunescribe/candidates.parquet` holds each candidate's full row (all captions with
their stats, audio stats, hash, fingerprint, encoded audio), sorted by key. `tunescribe filter`
re-decides from it with new thresholds — loosened ones too — without decoding or running a model,
and writes the new corpus from it (the audio is the very bytes a shard holds). Disk: the encoded
audio of every candidate, so about the size of the shards again (plus the decision rejects).
The file's metadata holds facts about the config that made the clips (e.g. its hash).
One file, written by one worker: fine up to some 10^5 clips; sharding it is future work.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow.parquet as pq

from tunescribe.schemas import CLIP_SCHEMA, Clip
from tunescribe.transforms.sinks.files import write_bytes_atomically
from tunescribe.transforms.sinks.layout import open_binary, read_table
from tunescribe.transforms.sinks.parquet import parquet_bytes

CANDIDATES_FILE = "candidates.parquet"


def candidates_bytes(clips, metadata: dict | None = None) -> bytes:
    rows = [c.to_row() for c in sorted(clips, key=lambda c: c.key)]
    schema = CLIP_SCHEMA.with_metadata({**CLIP_SCHEMA.metadata, **{k.encode(): v.encode() for k, v in (metadata or {}).items()}})
    return parquet_bytes(rows, schema)


def candidates_metadata(path: str) -> dict:
    """The store's metadata (as given to WriteCandidates), from its footer: the rows (the audio of
    every candidate) are not read."""
    with open_binary(path) as f:
        meta = pq.read_schema(f).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}


def read_candidates(path: str) -> list[Clip]:
    return [Clip.from_row(r) for r in read_table(path).to_pylist()]


class WriteCandidates(beam.PTransform):
    def __init__(self, path: str, metadata: dict | None = None):
        super().__init__()
        self.path, self.metadata = path, dict(metadata or {})

    def expand(self, clips):
        path, metadata = self.path, self.metadata

        def write(all_clips):
            write_bytes_atomically(path, candidates_bytes(all_clips, metadata))
            return path

        return clips | "All" >> beam.combiners.ToList() | "Write" >> beam.Map(write)
