"""Writes accepted clips as WebDataset tar shards: `{name}-{split}-{shard:06d}.tar`, one series per split.

Determinism: each split's clips are sorted by key and packed into shards in that order, bounded
by sample count and bytes; every member has a fixed mtime, owner and mode; a sample's members are
adjacent and sorted by name. So the same clips always give the same bytes, on any runner.

Each sample holds `{key}.flac` (the audio), `{key}.json` (every clip field but the audio) and
`{key}.txt` (the first caption), so both `webdataset` and plain `tar` users find what they need.

Memory: what flows here are clip records; each shard's writer reads its samples' audio from the
audio store (transforms/audio/store.py) one member at a time, in order, and streams it into the
tar, so no shard is ever held in memory. Planning gathers (split, key, size) of every clip.

Resume: a shard is committed by renaming a complete temp file into place, then recording its
sha256 in `commit_dir`. A rerun that would write the same bytes (same digest, same size on disk)
leaves the committed shard alone; anything else is rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from concurrent.futures import ThreadPoolExecutor
from typing import Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from tunescribe.schemas import Clip
from tunescribe.schemas.layout import shard_name
from tunescribe.transforms import failpoints
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.sinks.files import list_files, read_bytes, write_atomically, write_bytes_atomically

FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z
BLOCK = tarfile.BLOCKSIZE
END_OF_ARCHIVE = 2 * BLOCK
SHARD_FACTS = "shards"  # tagged output: one dict per shard (file, split, nsamples, filesize, md5sum, sha256)
UNSPLIT = "all"  # series name for clips that reach the writer without a split


def metadata_of(clip: Clip) -> dict:
    return clip.to_row()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclasses.dataclass(frozen=True)
class StoredAudio:
    """A member whose bytes are in the audio store (read only when the tar is written)."""

    sha256: str
    fmt: str
    size: int

    def __len__(self) -> int:
        return self.size


@dataclasses.dataclass(frozen=True)
class Sample:
    key: str
    members: tuple[tuple[str, Union[bytes, StoredAudio]], ...]  # (file name, data), sorted by name
    row: dict  # the clip's table row

    @property
    def tar_size(self) -> int:
        return sum(BLOCK + -(-len(data) // BLOCK) * BLOCK for _, data in self.members)

    @property
    def split(self) -> str:
        return self.row.get("split") or UNSPLIT


def to_sample(clip: Clip) -> Sample:
    row = metadata_of(clip)
    members = {
        f"{clip.key}.{clip.audio_format}": StoredAudio(clip.audio_sha256, clip.audio_format, clip.audio_size),
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


def plan_split_shards(sizes: list[tuple[str, str, int]], max_samples: int, max_bytes: int) -> dict[str, tuple]:
    """(split, key, tar size) -> {key: (split, shard number)}: each split packed on its own."""
    by_split: dict[str, list] = {}
    for split, key, n in sizes:
        by_split.setdefault(split, []).append((key, n))
    return {key: (split, number) for split, keyed in by_split.items()
            for key, number in plan_shards(keyed, max_samples, max_bytes).items()}


def tar_member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_tar(fileobj, samples: list[Sample], store: AudioStore) -> list[int]:
    """Writes the samples as one tar, streaming stored audio from `store`; returns each sample's
    byte offset."""
    offsets = []
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        pos = 0
        for sample in samples:
            offsets.append(pos)
            for name, data in sample.members:
                if isinstance(data, StoredAudio):
                    path = store.path(data.sha256, data.fmt)
                    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                        tar.addfile(tar_member(name, data.size), f)
                else:
                    tar.addfile(tar_member(name, len(data)), io.BytesIO(data))
            pos += sample.tar_size
    return offsets


class Digest:
    """A write-only file that only hashes and counts what is written to it."""

    def __init__(self):
        self.md5, self.sha256, self.size = hashlib.md5(), hashlib.sha256(), 0

    def write(self, data) -> int:
        self.md5.update(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


class Tee:
    """Writes to a file and a Digest at once: a shard is hashed as it is written, in one pass."""

    def __init__(self, f, digest: Digest):
        self.f, self.digest = f, digest

    def write(self, data) -> int:
        self.digest.write(data)
        return self.f.write(data)


def marker_text(sha256: str, size: int) -> bytes:
    return f"{sha256} {size}\n".encode()


# finish_bundle outputs name their window: the global one, stamped at its end as a GroupByKey's are.
_GLOBAL = (GlobalWindow(),)
_END = GlobalWindow().max_timestamp()


class _WriteShard(beam.DoFn):
    """Writes the shards of a bundle, up to `parallel` at once: a shard is file reads, tar framing
    and hashing, which release the GIL, so threads overlap them (where the runner hands one
    worker many shards, as the DirectRunner does). Each shard streams one member at a time."""

    def __init__(self, output_dir: str, name: str, commit_dir: str | None, store: AudioStore, parallel: int = 1):
        self.output_dir, self.name, self.commit_dir, self.store = output_dir, name, commit_dir, store
        self.parallel = max(1, parallel)

    def start_bundle(self):
        self._shards = []

    def process(self, shard_samples):
        self._shards.append(shard_samples)  # written in finish_bundle

    def finish_bundle(self):
        shards, self._shards = self._shards, []
        with ThreadPoolExecutor(self.parallel) as pool:
            # Metrics are counted here, in the bundle's thread: Beam's counters are per thread.
            for fname, rows, facts, kept in pool.map(self._write_shard, shards):
                beam.metrics.Metrics.counter("sinks", "shards_kept" if kept else "shards_written").inc()
                beam.metrics.Metrics.counter("sinks", "samples_written").inc(len(rows))
                yield WindowedValue((fname, rows), _END, _GLOBAL)
                yield beam.pvalue.TaggedOutput(SHARD_FACTS, WindowedValue(facts, _END, _GLOBAL))

    def _write_shard(self, shard_samples):
        (split, number), samples = shard_samples
        samples = sorted(samples, key=lambda s: s.key)
        fname = shard_name(self.name, split, number)
        path = f"{self.output_dir}/{fname}"
        digest = None
        if self.commit_dir and FileSystems.exists(self._marker(fname)):
            # A rerun: hash what the shard would hold (reading only) and keep it if it is the same.
            digest = Digest()
            offsets = write_tar(digest, samples, self.store)
            if not self._committed(path, fname, digest.sha256.hexdigest(), digest.size):
                digest = None
        kept = digest is not None
        if not kept:
            digest = Digest()
            offsets = self._write(path, fname, samples, digest)
        rows = [
            {**s.row, "shard": fname, "shard_index": i, "shard_offset": off}
            for i, (s, off) in enumerate(zip(samples, offsets))
        ]
        facts = {"file": fname, "split": split, "nsamples": len(samples), "filesize": digest.size,
                 "md5sum": digest.md5.hexdigest(), "sha256": digest.sha256.hexdigest()}
        return fname, rows, facts, kept

    def _marker(self, fname: str) -> str:
        return f"{self.commit_dir}/{fname}.sha256"

    def _committed(self, path: str, fname: str, sha256: str, size: int) -> bool:
        if not self.commit_dir:
            return False
        on_disk = dict(list_files(path))
        if on_disk.get(path) != size or not FileSystems.exists(self._marker(fname)):
            return False
        return read_bytes(self._marker(fname)) == marker_text(sha256, size)

    def _write(self, path: str, fname: str, samples: list[Sample], digest: Digest) -> list[int]:
        if self.commit_dir and FileSystems.exists(self._marker(fname)):
            FileSystems.delete([self._marker(fname)])  # a stale marker must never vouch for new bytes
        offsets = []
        write_atomically(path, lambda f: offsets.extend(write_tar(Tee(f, digest), samples, self.store)))
        failpoints.reached("shard_written")
        if self.commit_dir:
            write_bytes_atomically(self._marker(fname), marker_text(digest.sha256.hexdigest(), digest.size))
        return offsets


class WriteWebDataset(beam.PTransform):
    """Clips (their audio in `store`) -> shards on disk.

    Outputs `.rows`: (shard file name, table rows) per shard, and `[SHARD_FACTS]`: one dict per
    shard for the shard index. `commit_dir` (optional) holds the commit markers that let a rerun
    keep shards that are already written. `parallel`: shards written at once by one worker."""

    def __init__(self, output_dir: str, name: str, store: AudioStore, max_samples: int = 1000,
                 max_bytes: int = 512 * 2**20, commit_dir: str | None = None, parallel: int = 1):
        super().__init__()
        self.parallel = parallel
        self.store = store
        if "/" in name or "." in name or not name:
            raise ValueError(f"corpus name must be non-empty, without dots or slashes: {name!r}")
        self.output_dir, self.name = output_dir.rstrip("/"), name
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.commit_dir = commit_dir.rstrip("/") if commit_dir else None

    def expand(self, clips):
        samples = clips | "ToSample" >> beam.Map(to_sample)
        plan = (
            samples
            | "Size" >> beam.Map(lambda s: (s.split, s.key, s.tar_size))
            | "AllSizes" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(plan_split_shards, self.max_samples, self.max_bytes)
        )
        return (
            samples
            | "ToShard" >> beam.Map(lambda s, plan: (plan[s.key], s), plan=beam.pvalue.AsSingleton(plan))
            | "GroupShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteShard(self.output_dir, self.name, self.commit_dir, self.store, self.parallel)).with_outputs(
                SHARD_FACTS, main="rows")
        )
