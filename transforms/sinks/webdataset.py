"""Writes accepted clips as WebDataset tar shards: `{name}-{shard:06d}.tar`.

Determinism: clips are sorted by key and packed into shards in that order, bounded by sample
count and bytes; every member has a fixed mtime, owner and mode; a sample's members are
adjacent and sorted by name. So the same clips always give the same bytes, on any runner.

Each sample holds `{key}.flac` (the audio), `{key}.json` (every clip field but the audio) and
`{key}.txt` (the first caption), so both `webdataset` and plain `tar` users find what they need.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile

import apache_beam as beam

from tunescribe.schemas import Clip
from tunescribe.transforms.sinks.files import write_atomically

FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z
BLOCK = tarfile.BLOCKSIZE
END_OF_ARCHIVE = 2 * BLOCK


def metadata_of(clip: Clip) -> dict:
    row = clip.to_row()
    del row["audio"]
    return row


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclasses.dataclass(frozen=True)
class Sample:
    key: str
    members: tuple[tuple[str, bytes], ...]  # (file name, bytes), sorted by name
    row: dict  # the clip's table row (no audio)

    @property
    def tar_size(self) -> int:
        return sum(BLOCK + -(-len(data) // BLOCK) * BLOCK for _, data in self.members)


def to_sample(clip: Clip) -> Sample:
    row = metadata_of(clip)
    members = {
        f"{clip.key}.{clip.audio_format}": clip.audio,
        f"{clip.key}.json": canonical_json(row),
    }
    if clip.captions:
        members[f"{clip.key}.txt"] = clip.captions[0].text.encode("utf-8")
    return Sample(clip.key, tuple(sorted(members.items())), row)


def plan_shards(sizes: list[tuple[str, int]], max_samples: int, max_bytes: int) -> dict[str, int]:
    """key -> shard number, packing keys in sorted order. A sample larger than max_bytes gets a
    shard of its own rather than being refused."""
    plan, shard, count, size = {}, 0, 0, 0
    for key, n in sorted(sizes):
        if count and (count >= max_samples or size + n + END_OF_ARCHIVE > max_bytes):
            shard, count, size = shard + 1, 0, 0
        plan[key] = shard
        count, size = count + 1, size + n
    return plan


def shard_name(name: str, shard: int) -> str:
    return f"{name}-{shard:06d}.tar"


def tar_member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_tar(fileobj, samples: list[Sample]) -> list[int]:
    """Writes the samples as one tar; returns each sample's byte offset."""
    offsets = []
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        pos = 0
        for sample in samples:
            offsets.append(pos)
            for name, data in sample.members:
                tar.addfile(tar_member(name, len(data)), io.BytesIO(data))
            pos += sample.tar_size
    return offsets


class _WriteShard(beam.DoFn):
    def __init__(self, output_dir: str, name: str):
        self.output_dir, self.name = output_dir, name

    def process(self, shard_samples):
        shard, samples = shard_samples
        samples = sorted(samples, key=lambda s: s.key)
        fname = shard_name(self.name, shard)
        offsets = []
        write_atomically(f"{self.output_dir}/{fname}", lambda f: offsets.extend(write_tar(f, samples)))
        beam.metrics.Metrics.counter("sinks", "shards_written").inc()
        beam.metrics.Metrics.counter("sinks", "samples_written").inc(len(samples))
        rows = [
            {**s.row, "shard": fname, "shard_index": i, "shard_offset": off}
            for i, (s, off) in enumerate(zip(samples, offsets))
        ]
        yield fname, rows


class WriteWebDataset(beam.PTransform):
    """Clips (with encoded audio) -> shards on disk; outputs (shard file name, table rows)."""

    def __init__(self, output_dir: str, name: str, max_samples: int = 1000, max_bytes: int = 512 * 2**20):
        super().__init__()
        if "/" in name or "." in name or not name:
            raise ValueError(f"corpus name must be non-empty, without dots or slashes: {name!r}")
        self.output_dir, self.name = output_dir.rstrip("/"), name
        self.max_samples, self.max_bytes = max_samples, max_bytes

    def expand(self, clips):
        samples = clips | "ToSample" >> beam.Map(to_sample)
        plan = (
            samples
            | "Size" >> beam.Map(lambda s: (s.key, s.tar_size))
            | "AllSizes" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(plan_shards, self.max_samples, self.max_bytes)
        )
        return (
            samples
            | "ToShard" >> beam.Map(lambda s, plan: (plan[s.key], s), plan=beam.pvalue.AsSingleton(plan))
            | "GroupShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteShard(self.output_dir, self.name))
        )
