"""The training loaders (pipelines/training/) on a corpus built by a real `tunescribe` build:
streaming (webdataset) exactly once per epoch across DataLoader workers, caption policies,
split filter, audio rate/length/crop, random access through the wids index, and the clip table
through Hugging Face `datasets`."""

from __future__ import annotations

import collections
import importlib.util
import io
import pathlib
import random
import shutil
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch

from tunescribe.pipelines.training import (
    AudioSpec,
    CaptionPolicy,
    CorpusIndex,
    CorpusStream,
    corpus_shards,
    corpus_splits,
    decode_audio,
    load_clip_table,
    partition,
)
from tunescribe.pipelines.training.shards import Shard, epoch_order

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "contrastive"
TASKS = {"writing", "summary", "paraphrase", "attribute_prediction"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pathlib.Path:
    """The contrastive example's corpus at half size: 12 pieces, 24 clips of 4 s at 16 kHz, shards
    of at most 4 samples: train has six shards, test one (the split of 12 artists gives no valid)."""
    from tunescribe.pipelines.commands.build import run_build
    from tunescribe.pipelines.config import load_config

    spec = importlib.util.spec_from_file_location("contrastive_synth", EXAMPLE / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    root = tmp_path_factory.mktemp("training")
    synth.write_inputs(root, per_style=2)
    config = (EXAMPLE / "config.yaml").read_text().replace("max_samples: 6", "max_samples: 4")
    (root / "config.yaml").write_text(config)
    run_build(load_config(str(root / "config.yaml")), [])
    return root / "corpus"


def table(corpus: pathlib.Path, split: str | None = None) -> list[dict]:
    rows = pq.read_table(corpus / "clips").to_pylist()
    rows = [r for r in rows if split is None or r["split"] == split]
    return sorted(rows, key=lambda r: (r["shard"], r["shard_index"]))


def keys_of(loader) -> list[str]:
    return [key for batch in loader for key in batch["__key__"]]


def test_the_fixture_corpus_has_what_the_tests_need(corpus):
    train = corpus_shards(str(corpus), "train")
    assert len(train) >= 3 and corpus_splits(str(corpus)) == sorted({r["split"] for r in table(corpus)}) == ["test", "train"]
    assert len(corpus_shards(str(corpus), "test")) == 1 and len(table(corpus, "test")) >= 2


@pytest.mark.parametrize("split,batched", [("train", False), ("train", True), (None, True)])
def test_two_workers_read_every_sample_exactly_once_per_epoch_shuffled(corpus, split, batched):
    """Batched by the DataLoader (per-sample tensors, collated) or in the stream (batch_size=3)."""
    expected = sorted(r["key"] for r in table(corpus, split))
    ds = CorpusStream(str(corpus), split, audio=AudioSpec(seconds=0.5, crop="start"), buffer=8, seed=3,
                      batch_size=3 if batched else None)
    loader = torch.utils.data.DataLoader(ds, batch_size=None if batched else 3, num_workers=2)
    orders = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        keys = []
        for batch in loader:
            keys += batch["__key__"]
            assert batch["audio"].shape == (len(batch["__key__"]), 1, 8000)
            assert batch["sample_rate"].tolist() == [16000] * len(batch["__key__"])
        assert len(keys) == len(expected) and sorted(keys) == expected  # no duplicates, no misses
        orders.append(keys)
    assert orders[0] != orders[1] and expected not in orders  # shuffled, differently each epoch
    if not batched:
        assert len(ds) == len(expected)


def test_batched_in_the_stream_equals_batched_by_the_dataloader(corpus):
    spec = AudioSpec(sample_rate=16000, seconds=1.0, crop="random")
    for spec in (spec, AudioSpec(sample_rate=22050, seconds=1.0, crop="center")):  # decoded in place / resampled
        by_loader = CorpusStream(str(corpus), "train", audio=spec, seed=5)
        in_stream = CorpusStream(str(corpus), "train", audio=spec, seed=5, batch_size=4)
        a = list(torch.utils.data.DataLoader(by_loader, batch_size=4))
        b = list(in_stream)
        assert [x["__key__"] for x in a] == [x["__key__"] for x in b] and [x["text"] for x in a] == [x["text"] for x in b]
        for x, y in zip(a, b):
            torch.testing.assert_close(x["audio"], y["audio"], rtol=0, atol=0)
    with pytest.raises(ValueError, match="fixed length"):
        CorpusStream(str(corpus), "train", batch_size=4)
    with pytest.raises(TypeError):
        len(in_stream)


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
def test_fewer_shards_than_workers_still_exactly_once(corpus):
    expected = sorted(r["key"] for r in table(corpus, "test"))  # one shard
    ds = CorpusStream(str(corpus), "test", audio=AudioSpec(seconds=0.5))
    for workers in (2, 3):
        assert sorted(keys_of(torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers))) == expected


def test_partition_covers_every_sample_once_for_any_shard_count():
    for sizes in ([5], [1, 1], [4, 4, 4, 2], [3, 0, 7], [1] * 9):
        shards = [Shard(f"s{i}.tar", n, "train") for i, n in enumerate(sizes)]
        for nparts in range(1, 6):
            got = collections.Counter()
            counts = []
            for part in range(nparts):
                ranges = partition(shards, part, nparts)
                counts.append(sum(r.stop - r.start for r in ranges))
                got.update((r.shard.url, i) for r in ranges for i in range(r.start, r.stop))
            assert got == collections.Counter((s.url, i) for s in shards for i in range(s.nsamples))
            assert max(counts) - min(counts) <= 1  # parts in step: distributed ranks see equal counts
    shards = [Shard(f"s{i}.tar", 1, "train") for i in range(8)]
    assert epoch_order(shards, 0, 1, True) == epoch_order(shards, 0, 1, True) != epoch_order(shards, 0, 2, True)


def test_resampled_stream_stops_at_samples_per_epoch(corpus):
    keys = {r["key"] for r in table(corpus, "train")}
    ds = CorpusStream(str(corpus), "train", audio=AudioSpec(seconds=0.5), resampled=True, samples_per_epoch=11)
    got = keys_of(torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2))
    assert len(got) == 11 and set(got) <= keys


def test_caption_policies_on_the_corpus(corpus):
    by_key = {r["key"]: r for r in table(corpus, "train")}
    spec = AudioSpec(seconds=0.25, crop="start")

    def epoch(captions, e=0):
        ds = CorpusStream(str(corpus), "train", audio=spec, captions=captions, shuffle=False)
        ds.set_epoch(e)
        return list(ds)

    for sample in epoch("first"):
        assert sample["text"] == by_key[sample["__key__"]]["captions"][0]["text"]
    assert {s["task"] for s in epoch("task=summary")} == {"summary"}
    assert {s["task"] for s in epoch(CaptionPolicy.of(task="paraphrase", backend="template"))} == {"paraphrase"}
    assert {s["task"] for s in epoch("writing:1,summary:0")} == {"writing"}
    random_tasks = collections.Counter(s["task"] for s in epoch("random"))
    assert set(random_tasks) == TASKS
    for sample in epoch("random"):  # the text is one of the sample's own captions, with its task
        assert (sample["text"], sample["task"]) in {(c["text"], c["task"]) for c in by_key[sample["__key__"]]["captions"]}
    # one policy per epoch, in turn
    schedule = ["task=writing", "task=summary"]
    assert [{s["task"] for s in epoch(schedule, e)} for e in range(3)] == [{"writing"}, {"summary"}, {"writing"}]
    # no caption of the asked backend: fall back to any caption, or (strict) drop the sample
    assert len(epoch("backend=openai")) == len(by_key)
    assert epoch(CaptionPolicy.of(backend="openai", strict=True)) == []
    # random choices depend on (seed, epoch, key), not on which worker reads the sample
    assert [s["text"] for s in epoch("random", 4)] == [s["text"] for s in epoch("random", 4)]
    assert [s["text"] for s in epoch("random", 4)] != [s["text"] for s in epoch("random", 5)]


def test_caption_policy_pick_and_parse():
    caps = [{"text": "a", "task": "writing", "backend": "template"},
            {"text": "b", "task": "summary", "backend": "openai"},
            {"text": "c", "task": "writing", "backend": "openai"}]
    rng = random.Random(0)
    assert CaptionPolicy.parse("first").pick(caps, rng)["text"] == "a"
    assert CaptionPolicy.parse("task=writing,backend=openai").pick(caps, rng)["text"] == "c"
    assert {CaptionPolicy.parse("backend=openai").pick(caps, rng)["text"] for _ in range(50)} == {"b", "c"}
    picks = collections.Counter(CaptionPolicy.parse("writing:3,summary:1").pick(caps, rng)["task"] for _ in range(4000))
    assert 0.7 < picks["writing"] / 4000 < 0.8
    assert CaptionPolicy.parse("random").pick([], rng) is None
    for bad in ("colour=red", "writing:-1", "writing:x", "whatever", ""):
        with pytest.raises(ValueError):
            CaptionPolicy.parse(bad)


def test_split_filter(corpus):
    for split in corpus_splits(str(corpus)):
        samples = list(CorpusStream(str(corpus), split, audio=AudioSpec(seconds=0.25)))
        assert {s["split"] for s in samples} == {split}
        assert sorted(s["__key__"] for s in samples) == sorted(r["key"] for r in table(corpus, split))
    both = list(CorpusStream(str(corpus), ["train", "test"], audio=AudioSpec(seconds=0.25)))
    assert sorted(s["__key__"] for s in both) == sorted(r["key"] for r in table(corpus))
    with pytest.raises(FileNotFoundError, match="no split 'nope'"):
        CorpusStream(str(corpus), "nope")


def stored_audio(corpus: pathlib.Path, key: str) -> tuple[np.ndarray, int]:
    row = next(r for r in table(corpus) if r["key"] == key)
    with tarfile.open(corpus / "shards" / row["shard"]) as tar:
        return sf.read(io.BytesIO(tar.extractfile(f"{key}.flac").read()), dtype="float32")


def test_audio_rate_length_and_crop(corpus):
    key = table(corpus, "test")[0]["key"]
    full, rate = stored_audio(corpus, key)
    assert rate == 16000 and full.ndim == 1 and len(full) == 4 * rate

    def one(spec, e=0):
        ds = CorpusStream(str(corpus), "test", audio=spec, shuffle=False, seed=1)
        ds.set_epoch(e)
        return next(s for s in ds if s["__key__"] == key)

    whole = one(AudioSpec())
    assert whole["audio"].dtype == torch.float32 and whole["sample_rate"] == rate
    np.testing.assert_array_equal(whole["audio"].numpy(), full[None])
    start = one(AudioSpec(seconds=1.5, crop="start"))["audio"].numpy()
    np.testing.assert_array_equal(start, full[None, :24000])
    center = one(AudioSpec(seconds=1.0, crop="center"))["audio"].numpy()
    np.testing.assert_array_equal(center, full[None, 24000:40000])
    offsets = set()
    for e in range(4):
        crop = one(AudioSpec(seconds=1.0), e)["audio"].numpy()[0]
        hits = [o for o in range(len(full) - len(crop) + 1) if np.array_equal(full[o:o + len(crop)], crop)]
        assert hits, "a random crop is a window of the stored audio"
        offsets.add(hits[0])
        np.testing.assert_array_equal(crop, one(AudioSpec(seconds=1.0), e)["audio"].numpy()[0])  # same seed+epoch
    assert len(offsets) > 1
    resampled = one(AudioSpec(sample_rate=22050, seconds=2.0, crop="start"))
    assert resampled["sample_rate"] == 22050 and resampled["audio"].shape == (1, 44100)
    padded = one(AudioSpec(sample_rate=8000, seconds=6.0))["audio"]
    assert padded.shape == (1, 48000) and not padded[0, 32100:].any() and padded[0, :31000].abs().max() > 0.1
    pcm = one(AudioSpec(dtype="int16"))["audio"]  # the FLAC's own 16-bit samples
    assert pcm.dtype == torch.int16
    np.testing.assert_array_equal(pcm.numpy()[0] / 32768, full)
    pcm = one(AudioSpec(sample_rate=8000, seconds=1.0, crop="start", dtype="int16"))["audio"]
    floats = one(AudioSpec(sample_rate=8000, seconds=1.0, crop="start"))["audio"]
    assert pcm.dtype == torch.int16 and pcm.shape == floats.shape == (1, 8000)
    assert (pcm.float() / 32768 - floats).abs().max() <= 1 / 32768
    ds = CorpusStream(str(corpus), "test", audio=AudioSpec(seconds=1.0, crop="start", dtype="int16"), batch_size=4)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=1)))
    assert batch["audio"].dtype == torch.int16 and batch["audio"].shape[1:] == (1, 16000)


def test_decode_audio_stereo_and_wav():
    rate = 8000
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1).astype(np.float32) * 0.5
    buf = io.BytesIO()
    sf.write(buf, stereo, rate, format="WAV", subtype="FLOAT")
    mono, got_rate = decode_audio(buf.getvalue(), AudioSpec())
    assert got_rate == rate and mono.shape == (1, rate)
    np.testing.assert_allclose(mono[0].numpy(), stereo.mean(axis=1), atol=1e-7)
    both, _ = decode_audio(buf.getvalue(), AudioSpec(mono=False, seconds=0.5, crop="start"))
    np.testing.assert_array_equal(both.numpy(), stereo[:4000].T)
    assert both.is_contiguous()
    with pytest.raises(ValueError):
        AudioSpec(crop="middle")
    with pytest.raises(ValueError):
        AudioSpec(dtype="float64")


def test_random_access_through_the_wids_index(corpus):
    rows = table(corpus, "train")
    ds = CorpusIndex(str(corpus), "train", audio=AudioSpec(seconds=1.0, crop="start"), captions="task=summary")
    assert len(ds) == len(rows)
    for i in (0, len(rows) // 2, len(rows) - 1, -1):
        sample = ds[i]
        row = rows[i]
        assert sample["__key__"] == row["key"] and sample["task"] == "summary"
        assert sample["text"] in {c["text"] for c in row["captions"]}
        full, _ = stored_audio(corpus, row["key"])
        np.testing.assert_array_equal(sample["audio"].numpy(), full[None, :16000])
    with pytest.raises(IndexError):
        ds[len(rows)]
    import wids

    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2,
                                         sampler=wids.ChunkedSampler(ds, chunksize=5, shuffle=True))
    keys = keys_of(loader)
    assert sorted(keys) == sorted(r["key"] for r in rows) and keys != [r["key"] for r in rows]


def test_random_access_from_a_copied_corpus(corpus, tmp_path):
    """The index names shards relative to itself: a corpus moved elsewhere still reads."""
    moved = tmp_path / "moved"
    shutil.copytree(corpus, moved)
    ds = CorpusIndex(str(moved), "test", audio=AudioSpec(seconds=0.5))
    assert [ds[i]["__key__"] for i in range(len(ds))] == [r["key"] for r in table(corpus, "test")]


def test_clip_table_with_hugging_face_datasets(corpus, tmp_path):
    from datasets import load_dataset

    pattern = f"{corpus}/clips/*-train-*.parquet"
    clips = load_dataset("parquet", data_files=pattern, split="train", cache_dir=str(tmp_path / "hf"))
    rows = table(corpus, "train")
    assert clips.num_rows == len(rows)
    assert sorted(clips["key"]) == sorted(r["key"] for r in rows)
    first = clips[0]
    assert {c["task"] for c in first["captions"]} == TASKS and first["split"] == "train"
    assert set(first) >= {"tags", "attributes", "stats", "shard", "shard_index", "provenance"}
    everything = load_clip_table(str(corpus), cache_dir=str(tmp_path / "hf"))
    assert everything.num_rows == len(table(corpus))
