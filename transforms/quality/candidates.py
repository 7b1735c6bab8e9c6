"""The stats store: every clip that reached the quality decisions, as it was before them.

`<corpus>/.tunescribe/candidates.parquet` holds each candidate's full row (all captions with
their stats, audio stats, hash, fingerprint, encoded audio), sorted by key. `tunescribe filter`
re-decides from it with new thresholds — loosened ones too — without decoding or running a model.
One file, written by one worker: fine up to some 10^5 clips; sharding it is future work.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from tunescribe.schemas import CLIP_SCHEMA, Clip
from tunescribe.transforms.sinks.files import write_bytes_atomically

CANDIDATES_FILE = "candidates.parquet"


def candidates_bytes(clips) -> bytes:
    import io

    rows = [c.to_row() for c in sorted(clips, key=lambda c: c.key)]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=CLIP_SCHEMA), buf, compression="zstd")
    return buf.getvalue()


def read_candidates(path: str) -> list[Clip]:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        table = pq.read_table(pa.BufferReader(f.read()))
    return [Clip.from_row(r) for r in table.to_pylist()]


class WriteCandidates(beam.PTransform):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def expand(self, clips):
        path = self.path

        def write(all_clips):
            write_bytes_atomically(path, candidates_bytes(all_clips))
            return path

        return clips | "All" >> beam.combiners.ToList() | "Write" >> beam.Map(write)
