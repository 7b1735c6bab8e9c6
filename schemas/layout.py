"""Where each part of a corpus lives, and the keys that name its clips and samples.

    <corpus>/shards/<name>-<split>-000000.tar   WebDataset shards, one series per split
    <corpus>/clips/<name>-<split>-000000.parquet  the clip table, one file per shard
    <corpus>/rejects.parquet                    everything that did not make it, with stage + reason
    <corpus>/dropped_captions.parquet           every caption the decisions took off a clip, with its rule
    <corpus>/<split>.wids.json                  wids shard index per split (url, md5sum, nsamples, filesize)
    <corpus>/stats.json  README.md  report.html  SHA256SUMS
    <corpus>/manifest.json                      written last: the build finished; every file, size and sha256
    <corpus>/.tunescribe/                       resume ledger; not part of the corpus

Keys: a source's clips are `<source key>_<clip index, 5 digits>`; a WebDataset sample's members
are grouped by their name up to the first dot. This module imports nothing (no Beam): the build,
the sinks and a corpus's readers (transforms/corpus/readers.py) share it.
"""

from __future__ import annotations

SHARDS_DIR = "shards"
CLIPS_DIR = "clips"
REJECTS_FILE = "rejects.parquet"
DROPPED_CAPTIONS_FILE = "dropped_captions.parquet"
STATS_FILE = "stats.json"
CARD_FILE = "README.md"
REPORT_FILE = "report.html"
CHECKSUMS_FILE = "SHA256SUMS"
MANIFEST_FILE = "manifest.json"
WORK_DIR = ".tunescribe"
COMMITTED_SHARDS_DIR = f"{WORK_DIR}/shards"  # a marker per written shard: its sha256 and size
PROGRESS_FILE = f"{WORK_DIR}/progress.json"  # this run's totals for the progress line
WIDS_SUFFIX = ".wids.json"
MANIFEST_SCHEMA = "tunescribe.manifest/1"


def clip_key(source_key: str, clip_index: int) -> str:
    return f"{source_key}_{clip_index:05d}"


def source_key_of(clip_key: str) -> str:
    """A clip key is `<source key>_<clip index>`."""
    return clip_key.rsplit("_", 1)[0]


def shard_name(name: str, split: str, number: int) -> str:
    return f"{name}-{split}-{number:06d}.tar"


def table_name(shard: str) -> str:
    """The clip-table file of a shard."""
    return shard.removesuffix(".tar") + ".parquet"


def wids_index_name(split: str) -> str:
    return f"{split}{WIDS_SUFFIX}"


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def sample_key(member_name: str) -> str:
    """WebDataset's grouping rule: a member belongs to the sample named by its path up to the
    first dot of the file name."""
    folder, _, base = member_name.rpartition("/")
    return (folder + "/" if folder else "") + base.split(".", 1)[0]
