"""The clip table (Parquet, one file per shard) as a Hugging Face `datasets.Dataset`:

    from datasets import load_dataset
    clips = load_dataset("parquet", data_files="corpus/clips/*-train-*.parquet", split="train")

`load_clip_table` is that one-liner with the file pattern of a split filled in. The table holds
every clip field but the audio (tags, attributes, captions with task/backend, stats, split,
provenance) plus where each sample sits in the shards (shard, shard_index, shard_offset).
"""

from __future__ import annotations

from typing import Optional


def clip_table_pattern(corpus: str, split: Optional[str] = None) -> str:
    return f"{corpus.rstrip('/')}/clips/*-{split}-*.parquet" if split else f"{corpus.rstrip('/')}/clips/*.parquet"


def load_clip_table(corpus: str, split: Optional[str] = None, **kwargs):
    from datasets import load_dataset  # optional dependency (the `train` extra)

    return load_dataset("parquet", data_files=clip_table_pattern(corpus, split), split="train", **kwargs)
