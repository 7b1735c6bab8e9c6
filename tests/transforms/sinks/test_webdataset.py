"""WebDataset shards: one series per split, bounded, sorted, fixed metadata, readable by the webdataset
library, committed atomically and left alone by a rerun that would write the same bytes."""

import hashlib
import io
import json
import os
import tarfile

import apache_beam as beam
import numpy as np
import soundfile as sf
import webdataset as wds
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import Caption, Clip, Provenance, Tag
from tunescribe.transforms.audio.encode import encode_pcm
from tunescribe.transforms.audio.store import AudioStore
from tunescribe.transforms.corpus.readers import iter_tar, read_sample
from tunescribe.transforms.sinks.files import TMP_MARK, write_bytes_atomically
from tunescribe.transforms.sinks.webdataset import (
    FIXED_MTIME,
    SHARD_FACTS,
    WriteWebDataset,
    plan_shards,
    plan_split_shards,
    to_sample,
)


def stored(store: AudioStore, pcm: np.ndarray, rate: int) -> dict:
    """The clip fields of PCM encoded into the store, as the audio path leaves them."""
    data = encode_pcm(pcm, rate)
    return {"audio_sha256": store.put(data, "flac"), "audio_size": len(data), "audio_format": "flac"}


def _clip(i, store):
    pcm = np.full((1, 800), 0.01 * (i + 1), np.float32)
    return Clip(key=f"{i:016x}_00000", source_id=f"s{i}", clip_index=0, start_s=0, end_s=0.1, sample_rate=8000,
                channels=1, provenance=Provenance("m", "a", "v", "h"), tags=(Tag("piano", "instrument"),),
                captions=(Caption(f"caption {i}", "template", "template", "p", "1"),),
                stats={"duration_s": 0.1}, split="train", **stored(store, pcm, 8000))


def test_plan_bounds_by_count_and_bytes():
    sizes = [(f"k{i}", 1000) for i in range(10)]
    assert sorted(set(plan_shards(sizes, 4, 10**9).values())) == [0, 1, 2]
    plan = plan_shards(sizes, 100, 3100)  # 3 samples + end-of-archive blocks fit
    assert [plan[f"k{i}"] for i in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert plan_shards([("big", 10**6), ("small", 10)], 100, 5000) == {"big": 0, "small": 1}


def test_shards_are_sorted_deterministic_and_readable(tmp_path):
    store = AudioStore(str(tmp_path / "audio"))
    clips = [_clip(i, store) for i in (5, 3, 9, 1, 7)]
    for run in ("a", "b"):
        with beam.Pipeline() as p:
            p | beam.Create(clips if run == "a" else clips[::-1]) | WriteWebDataset(str(tmp_path / run), "t", store, 2)
    names = sorted(f.name for f in (tmp_path / "a").iterdir())
    assert names == ["t-train-000000.tar", "t-train-000001.tar", "t-train-000002.tar"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with tarfile.open(tmp_path / "a" / names[0]) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [f"{k}_00000.{e}" for k in (f"{1:016x}", f"{3:016x}")
                                             for e in ("flac", "json", "txt")]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in members} == {(FIXED_MTIME, 0, 0, "", 0o644)}
    samples = list(wds.WebDataset([str(tmp_path / "a" / n) for n in names], shardshuffle=False))
    assert [s["__key__"] for s in samples] == sorted(c.key for c in clips)
    for s in samples:
        audio, rate = sf.read(io.BytesIO(s["flac"]))
        meta = json.loads(s["json"])
        assert rate == 8000 and len(audio) == 800 and meta["key"] == s["__key__"]
        assert s["txt"].decode() == meta["captions"][0]["text"] and "audio" not in meta
        assert meta["audio_sha256"] == hashlib.sha256(s["flac"]).hexdigest() and meta["audio_size"] == len(s["flac"])


def test_sample_members_sorted(tmp_path):
    names = [n for n, _ in to_sample(_clip(1, AudioStore(str(tmp_path)))).members]
    assert names == sorted(names)


def clips(store: AudioStore, n: int, split_of=lambda i: "train" if i % 3 else "test", seconds: float = 0.05) -> list[Clip]:
    out = []
    for i in range(n):
        pcm = np.random.default_rng(i).uniform(-0.3, 0.3, (1, int(16000 * seconds))).astype(np.float32)
        out.append(Clip(key=f"{i:016x}_00000", source_id=f"s{i}", clip_index=0, start_s=0, end_s=seconds,
                        sample_rate=16000, channels=1, provenance=Provenance("in", "src", "0", "h"),
                        split=split_of(i), **stored(store, pcm, 16000)))
    return out


def test_each_split_is_its_own_series_sized_by_samples_and_bytes():
    sizes = [("train", f"k{i:02d}", 1000) for i in range(7)] + [("test", f"t{i}", 5000) for i in range(3)]
    plan = plan_split_shards(sizes, max_samples=3, max_bytes=20_000)
    assert [plan[f"k{i:02d}"] for i in range(7)] == [("train", 0)] * 3 + [("train", 1)] * 3 + [("train", 2)]
    # 5000-byte samples against 20000 bytes (with the 1024-byte end of archive): three per shard.
    assert [plan[f"t{i}"] for i in range(3)] == [("test", 0)] * 3
    assert plan_split_shards([("test", "x", 50_000)], 3, 20_000) == {"x": ("test", 0)}  # too big: alone


def test_shards_rows_and_facts_agree(tmp_path):
    store = AudioStore(str(tmp_path / "audio"))
    items = clips(store, 10)
    out, commit = tmp_path / "shards", tmp_path / "committed"
    with beam.Pipeline() as p:
        written = p | beam.Create(items) | WriteWebDataset(str(out), "c", store, 4, 10**9, str(commit))
        facts = written[SHARD_FACTS] | beam.Map(lambda f: (f["file"], f["split"], f["nsamples"]))
        assert_that(facts, equal_to([("c-test-000000.tar", "test", 4), ("c-train-000000.tar", "train", 4),
                                     ("c-train-000001.tar", "train", 2)]))
        written.rows | "Save" >> beam.Map(lambda fr: (tmp_path / f"{fr[0]}.rows").write_text(repr(fr[1])))
    for tar in sorted(out.glob("*.tar")):
        rows = eval((tmp_path / f"{tar.name}.rows").read_text())  # noqa: S307 - our own repr
        with open(tar, "rb") as f:
            firsts = {}
            for offset, name, _ in iter_tar(f):
                firsts.setdefault(name.split(".")[0], offset)
        assert [(r["key"], r["shard_offset"]) for r in rows] == sorted(firsts.items())
        for r in rows:
            assert set(read_sample(str(tar), r["shard_offset"], r["key"])) == {f"{r['key']}.flac", f"{r['key']}.json"}
        marker = (commit / f"{tar.name}.sha256").read_text().split()
        assert marker == [hashlib.sha256(tar.read_bytes()).hexdigest(), str(tar.stat().st_size)]
    assert not [p for p in tmp_path.rglob("*") if TMP_MARK in p.name]


def test_a_rerun_keeps_committed_shards_and_rewrites_changed_ones(tmp_path):
    out, commit, store = tmp_path / "shards", tmp_path / "committed", AudioStore(str(tmp_path / "audio"))

    def run(items):
        with beam.Pipeline() as p:
            p | beam.Create(items) | WriteWebDataset(str(out), "c", store, 4, 10**9, str(commit))
        return {f.name: (f.stat().st_ino, f.read_bytes()) for f in out.glob("*.tar")}

    first = run(clips(store, 10))
    os.utime(out / "c-test-000000.tar", (0, 0))
    again = run(clips(store, 10))
    assert again == first  # same inodes: nothing was rewritten
    assert (out / "c-test-000000.tar").stat().st_mtime == 0
    changed = run(clips(store, 10, split_of=lambda i: "train" if i % 3 or i == 0 else "test"))  # clip 0 moves split
    assert changed["c-test-000000.tar"][1] != first["c-test-000000.tar"][1]
    assert changed["c-test-000000.tar"][0] != first["c-test-000000.tar"][0]  # a new file, renamed in


def test_atomic_writes_replace_in_one_step(tmp_path):
    path = tmp_path / "x" / "file.bin"
    write_bytes_atomically(str(path), b"one")
    inode = path.stat().st_ino
    write_bytes_atomically(str(path), b"two")
    assert path.read_bytes() == b"two" and path.stat().st_ino != inode
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]
