"""Writes the run's stats dict as canonical JSON (sorted keys), so reruns write the same bytes."""

from __future__ import annotations

import json

import apache_beam as beam

from tunescribe.transforms.sinks.files import write_bytes_atomically


def stats_json(stats: dict) -> bytes:
    return (json.dumps(stats, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class WriteRunStats(beam.PTransform):
    """One stats dict -> `path`; `extra` (run-level facts: name, config hash, versions) is merged in."""

    def __init__(self, path: str, extra: dict):
        super().__init__()
        self.path, self.extra = path, extra

    def expand(self, stats):
        path, extra = self.path, self.extra

        def write(s):
            write_bytes_atomically(path, stats_json({**extra, **s}))
            return path

        return stats | beam.Map(write)
