"""A corpus's shards, read from its `<split>.wids.json` indexes, and how readers share them.

`partition` cuts one epoch into parts (one per worker of every rank) that together hold every
sample exactly once, for any number of shards: the shards, in the epoch's order, are laid end to
end and each part takes an equal run of samples (a shard at a boundary is read by both neighbours,
each keeping its own samples). So a corpus of fewer shards than workers still has every worker
busy, and every part holds the same number of samples (±1), which keeps distributed ranks in step.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Sequence, Union

import fsspec

WIDS_SUFFIX = ".wids.json"


@dataclasses.dataclass(frozen=True)
class Shard:
    url: str
    nsamples: int
    split: str
    filesize: int = 0


@dataclasses.dataclass(frozen=True)
class ShardRange:
    """Samples [start, stop) of a shard, by position in it."""

    shard: Shard
    start: int
    stop: int


def index_path(corpus: str, split: str) -> str:
    return f"{corpus.rstrip('/')}/{split}{WIDS_SUFFIX}"


def corpus_splits(corpus: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(corpus)
    names = [p.rsplit("/", 1)[-1] for p in fs.glob(f"{root.rstrip('/')}/*{WIDS_SUFFIX}")]
    return sorted(n[: -len(WIDS_SUFFIX)] for n in names)


def corpus_shards(corpus: str, split: Union[str, Sequence[str], None] = "train") -> list[Shard]:
    """The shards of one split, of several, or (None) of all, from the wids indexes."""
    splits = corpus_splits(corpus) if split is None else [split] if isinstance(split, str) else list(split)
    if not splits:
        raise FileNotFoundError(f"{corpus}: no *{WIDS_SUFFIX} index (is it a built tunescribe corpus?)")
    shards = []
    for name in splits:
        path = index_path(corpus, name)
        try:
            with fsspec.open(path, "rt", encoding="utf-8") as f:
                index = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"{corpus}: no split {name!r} (no {path}); "
                                    f"splits there: {corpus_splits(corpus)}") from None
        shards += [Shard(f"{corpus.rstrip('/')}/{s['url']}", int(s["nsamples"]), name, int(s.get("filesize", 0)))
                   for s in index["shardlist"]]
    return shards


def epoch_order(shards: Sequence[Shard], seed: int, epoch: int, shuffle: bool) -> list[Shard]:
    """The shards in the epoch's order: the same on every worker and rank, new every epoch."""
    order = list(shards)
    if shuffle:
        random.Random(f"{seed}/{epoch}").shuffle(order)
    return order


def partition(shards: Sequence[Shard], part: int, nparts: int) -> list[ShardRange]:
    """The sample ranges of part `part` of `nparts` (see module doc)."""
    if not 0 <= part < nparts:
        raise ValueError(f"part {part} of {nparts}")
    total = total_samples(shards)
    lo, hi = part * total // nparts, (part + 1) * total // nparts
    ranges, first = [], 0
    for shard in shards:
        start, stop = max(lo, first), min(hi, first + shard.nsamples)
        if start < stop:
            ranges.append(ShardRange(shard, start - first, stop - first))
        first += shard.nsamples
    return ranges


def share(total: int, part: int, nparts: int) -> int:
    """How many of `total` samples part `part` of `nparts` gets (as `partition` cuts them)."""
    return (part + 1) * total // nparts - part * total // nparts


def total_samples(shards: Sequence[Shard]) -> int:
    return sum(s.nsamples for s in shards)
