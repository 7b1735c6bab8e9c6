"""Reading a built corpus for training: streaming (webdataset) and random access (wids)
datasets that decode audio to tensors and pick one caption per sample, and the clip table as a
Hugging Face dataset. Imports nothing of the build pipeline: a corpus on disk is all it needs."""

from tunescribe.pipelines.training.audio import AudioSpec, decode_audio
from tunescribe.pipelines.training.captions import CaptionPolicy
from tunescribe.pipelines.training.random_access import CorpusIndex
from tunescribe.pipelines.training.shards import Shard, corpus_shards, corpus_splits, partition
from tunescribe.pipelines.training.stream import CorpusStream
from tunescribe.pipelines.training.tables import clip_table_pattern, load_clip_table

__all__ = ["AudioSpec", "CaptionPolicy", "CorpusIndex", "CorpusStream", "Shard", "clip_table_pattern",
           "corpus_shards", "corpus_splits", "decode_audio", "load_clip_table", "partition"]
