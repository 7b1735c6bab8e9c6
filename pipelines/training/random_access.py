"""Random access to a corpus split through its wids index (`<split>.wids.json`): a map-style
torch Dataset, for samplers, evaluation and look-ups by position.

    ds = CorpusIndex("corpus", split="valid", audio=AudioSpec(16000, seconds=10, crop="center"),
                     captions="task=writing")
    len(ds); ds[3]["text"]
    loader = DataLoader(ds, batch_size=32, num_workers=4,
                        sampler=wids.ChunkedSampler(ds, chunksize=1000, shuffle=True))  # shard-local shuffling

Index i is the i-th sample of the split's shards in index order, which is the clip table's
(shard, shard_index) order. Local shards are read in place (memory-mapped by wids); remote ones
are downloaded to wids' cache (WIDS_CACHE). The wids reader opens lazily in each process, so the
dataset can go to DataLoader workers.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

import torch

from tunescribe.pipelines.training.audio import AudioSpec
from tunescribe.pipelines.training.captions import PolicyLike, caption_schedule
from tunescribe.pipelines.training.sample import SampleDecoder
from tunescribe.pipelines.training.shards import corpus_shards, index_path


def in_place(url: str) -> str:
    """wids' local name for a shard: a local file is its own local copy."""
    return url


class CorpusIndex(torch.utils.data.Dataset):
    def __init__(self, corpus: str, split: str = "train", *, audio: AudioSpec = AudioSpec(),
                 captions: Union[PolicyLike, Sequence[PolicyLike]] = "first", seed: int = 0,
                 keep_json: bool = False, lru_size: int = 10):
        super().__init__()
        self.index = index_path(corpus, split)
        self.shards = corpus_shards(corpus, split)
        self.length = sum(s.nsamples for s in self.shards)
        self.local = "://" not in corpus or corpus.startswith("file://")
        self.decoder = SampleDecoder(audio, caption_schedule(captions), seed, keep_json)
        self.lru_size, self.epoch = lru_size, 0
        self._reader, self._pid = None, None

    def set_epoch(self, epoch: int) -> None:
        """Caption policy of the schedule, crops and caption choices follow the epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def reader(self):
        if self._reader is None or self._pid != os.getpid():
            import wids  # the wids reader prints a line to stderr when it opens; only where it is used

            kwargs = {"localname": in_place} if self.local else {}
            self._reader = wids.ShardListDataset(self.index, transformations=[], lru_size=self.lru_size, **kwargs)
            self._pid = os.getpid()
        return self._reader

    def __getitem__(self, index: int) -> dict:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        raw = self.reader()[index % self.length]
        sample = self.decoder(raw, self.epoch)
        if sample is None:
            raise KeyError(f"sample {raw['__key__']} has no caption the strict policy accepts")
        return sample

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_reader"] = state["_pid"] = None  # open shards and mmaps stay with their process
        return state
