"""Streams a corpus split for training with `webdataset`: shuffled shards, a shuffle buffer,
multi-worker `DataLoader`s and distributed ranks, decoded to tensors with one caption each.

    ds = CorpusStream("corpus", split="train", audio=AudioSpec(16000, seconds=5), captions="random",
                      batch_size=32)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=4)
    for epoch in range(10):
        ds.set_epoch(epoch)  # new shard order, shuffle, crops and caption choices
        for batch in loader: ...   # batch["audio"]: (32, 1, 80000); batch["text"]: 32 strings

Epochs read every sample of the split exactly once, whatever the shard count (shards.partition
shares them out among all workers of all ranks). `resampled=True` instead draws shards with
replacement, without end (webdataset's ResampledShards); `samples_per_epoch` then sets where
an epoch stops. `captions` may be a list of policies, one per epoch in turn.

Without `set_epoch`, a dataset iterated in its own process (num_workers=0, or persistent
workers) moves to the next epoch by itself; a DataLoader with fresh workers each epoch needs
`set_epoch`, as torch's DistributedSampler does.

Batches: `batch_size` batches in the stream, as webdataset pipelines do (the DataLoader then gets
batch_size=None): each sample is decoded straight into its row of the batch tensor, made in
shared memory inside a worker, so there is no collate copy and no copy into shared memory on the
way to the training process. A DataLoader's own batching works too. With workers, what costs most
besides decoding is the kernel faulting in fresh shared-memory pages for every batch (on the
2-core dev machine: 26 ms per 30 MB batch against 6 ms for private memory); `AudioSpec(dtype=
"int16")` halves those bytes (benchmarks/loader.py). In the stream, each worker's last batch of an
epoch may be short; dropping it is the training loop's business.
"""

from __future__ import annotations

import itertools
import random
import zlib
from typing import Optional, Sequence, Union

import torch
import webdataset as wds
from webdataset.gopen import gopen
from webdataset.tariterators import group_by_keys, tar_file_iterator
from webdataset.utils import pytorch_worker_info

from tunescribe.pipelines.training.audio import AudioSpec
from tunescribe.pipelines.training.captions import PolicyLike, caption_schedule
from tunescribe.pipelines.training.sample import SampleDecoder, batches
from tunescribe.pipelines.training.shards import (
    ShardRange,
    corpus_shards,
    epoch_order,
    partition,
    share,
    total_samples,
)


def range_samples(ranges: Sequence[ShardRange]):
    """The samples of each range, read with webdataset's tar iterator; a shard is read up to the end
    of the range and closed there (samples before its start are read past)."""
    for r in ranges:
        with gopen(r.shard.url) as stream:
            files = ({**f, "__url__": r.shard.url} for f in tar_file_iterator(stream))
            for index, sample in enumerate(group_by_keys(files)):
                if index >= r.stop:
                    break
                if index >= r.start:
                    yield sample


class CorpusStream(torch.utils.data.IterableDataset):
    def __init__(self, corpus: str, split: Union[str, Sequence[str], None] = "train", *,
                 audio: AudioSpec = AudioSpec(), captions: Union[PolicyLike, Sequence[PolicyLike]] = "random",
                 shuffle: bool = True, buffer: int = 256, seed: int = 0, resampled: bool = False,
                 samples_per_epoch: Optional[int] = None, keep_json: bool = False,
                 batch_size: Optional[int] = None):
        super().__init__()
        if batch_size is not None and (batch_size < 1 or audio.seconds is None):
            raise ValueError("batching in the stream needs batch_size >= 1 and a fixed length (audio.seconds)")
        self.batch_size = batch_size
        self.shards = corpus_shards(corpus, split)
        if not self.shards:
            raise ValueError(f"{corpus}: split {split!r} has no shards")
        self.decoder = SampleDecoder(audio, caption_schedule(captions), seed, keep_json)
        self.shuffle, self.buffer, self.seed = shuffle, buffer, seed
        self.resampled = resampled
        self.samples_per_epoch = samples_per_epoch or total_samples(self.shards)
        self.epoch, self._auto_epoch = 0, True

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self._auto_epoch = epoch, False

    def __len__(self) -> int:
        """Samples per epoch of this rank (with strict caption policies, an upper bound). Batched in
        the stream, the number of batches depends on the workers' short last batches: no length."""
        if self.batch_size:
            raise TypeError("a CorpusStream batched in the stream has no length in batches; "
                            "len() of the unbatched stream gives the samples")
        _, world_size, _, _ = pytorch_worker_info()
        return self.samples_per_epoch // world_size

    def __iter__(self):
        epoch = self.epoch
        if self._auto_epoch:
            self.epoch += 1
        rank, world_size, worker, num_workers = pytorch_worker_info()
        part, nparts = rank * num_workers + worker, world_size * num_workers
        seed = f"{self.seed}/{epoch}/{part}"
        if self.resampled:
            stages = [wds.ResampledShards([s.url for s in self.shards], seed=hash_seed(seed), deterministic=True,
                                          worker_seed=lambda: 0),
                      wds.tarfile_to_samples()]
            wanted = share(self.samples_per_epoch, part, nparts)
        else:
            ranges = partition(epoch_order(self.shards, self.seed, epoch, self.shuffle), part, nparts)
            stages = [lambda: range_samples(ranges)]
            wanted = None
        if self.shuffle and self.buffer > 1:
            stages.append(wds.shuffle(self.buffer, initial=self.buffer, rng=random.Random(seed)))
        if wanted is not None:
            stages.append(lambda src: itertools.islice(src, wanted))
        if self.batch_size:
            shared = torch.utils.data.get_worker_info() is not None
            stages.append(wds.pipelinefilter(batches)(self.decoder, epoch, self.batch_size, shared))
        else:
            stages.append(wds.map(lambda raw: self.decoder(raw, epoch)))
            stages.append(wds.select(lambda sample: sample is not None))
        yield from wds.DataPipeline(*stages)


def hash_seed(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))
