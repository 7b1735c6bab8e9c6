"""The stats store: every clip that reached the quality decisions, as it was before them.

`<corpus>/.tunescribe/candidates/` holds each candidate's full record (all captions with their
stats, audio stats, hash, fingerprint, and where its encoded audio is in the audio store), in
Parquet files by leading hex digits of the clip key (about PART_ROWS rows each, rows sorted by
key), and `meta.json`: facts about the config that made the clips (e.g. its hash).
`tunescribe filter` re-decides from it with new thresholds — loosened ones too — without decoding
or running a model, and writes the new corpus from it and the audio store (the audio is the very
bytes a shard holds). Each part is written by one worker, so no step holds all candidates.
"""

from __future__ import annotations

import json

import apache_beam as beam

from tunescribe.schemas import CLIP_SCHEMA, Clip
from tunescribe.transforms.corpus.readers import read_json, read_table
from tunescribe.transforms.sinks.compact import key_digits
from tunescribe.transforms.sinks.files import list_files, write_bytes_atomically
from tunescribe.transforms.sinks.parquet import parquet_bytes

CANDIDATES_FILE = "candidates"  # a folder under the work folder
META_FILE = "meta.json"
PART_ROWS = 5000  # about; a part's rows are held by one worker while it is written


def part_name(key: str, digits: int) -> str:
    return f"part-{key[:digits] if digits else 'all'}.parquet"


def candidates_bytes(clips) -> bytes:
    return parquet_bytes([c.to_row() for c in sorted(clips, key=lambda c: c.key)], CLIP_SCHEMA)


def candidates_metadata(path: str) -> dict:
    """The store's metadata (as given to WriteCandidates); the rows are not read."""
    return read_json(f"{path.rstrip('/')}/{META_FILE}")


def candidate_files(path: str) -> list[str]:
    return [p for p, _ in list_files(f"{path.rstrip('/')}/part-*.parquet")]


def read_candidates(path: str) -> list[Clip]:
    return [Clip.from_row(r) for p in candidate_files(path) for r in read_table(p).to_pylist()]


class WriteCandidates(beam.PTransform):
    """Clips -> the store at `path`; outputs the path once the store is complete."""

    def __init__(self, path: str, metadata: dict | None = None):
        super().__init__()
        self.path, self.metadata = path.rstrip("/"), dict(metadata or {})

    def expand(self, clips):
        path, metadata = self.path, self.metadata
        digits = (clips | "Count" >> beam.combiners.Count.Globally()
                  | "Digits" >> beam.Map(lambda n: key_digits(n, PART_ROWS)))
        written = (
            clips
            | "ByPart" >> beam.Map(lambda c, d: (part_name(c.key, d), c), d=beam.pvalue.AsSingleton(digits))
            | "GroupPart" >> beam.GroupByKey()
            | "WritePart" >> beam.MapTuple(
                lambda name, part: write_bytes_atomically(f"{path}/{name}", candidates_bytes(part)) or name)
        )

        def finish(_, names):
            # Parts of an earlier build with another split into files go; meta.json last.
            keep = {f"{path}/{name}" for name in names}
            old = [p for p in candidate_files(path) if p not in keep]
            if old:
                beam.io.filesystems.FileSystems.delete(old)
            write_bytes_atomically(f"{path}/{META_FILE}", json.dumps(metadata, sort_keys=True).encode())
            return path

        return (clips.pipeline | "Start" >> beam.Create([None])
                | "Finish" >> beam.Map(finish, names=beam.pvalue.AsList(written)))
