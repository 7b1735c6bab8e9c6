"""WebDataset shards: bounded, sorted, fixed metadata, readable by the webdataset library."""

import io
import json
import tarfile

import apache_beam as beam
import numpy as np
import soundfile as sf
import webdataset as wds

from tunescribe.schemas import Caption, Clip, Provenance, Tag
from tunescribe.transforms.audio.encode import encode_pcm
from tunescribe.transforms.sinks.webdataset import FIXED_MTIME, WriteWebDataset, plan_shards, to_sample


def _clip(i):
    pcm = np.full((1, 800), 0.01 * (i + 1), np.float32)
    return Clip(key=f"{i:016x}_00000", source_id=f"s{i}", clip_index=0, start_s=0, end_s=0.1, sample_rate=8000,
                channels=1, provenance=Provenance("m", "a", "v", "h"), tags=(Tag("piano", "instrument"),),
                captions=(Caption(f"caption {i}", "template", "template", "p", "1"),),
                stats={"duration_s": 0.1}, split="train", audio=encode_pcm(pcm, 8000), audio_format="flac")


def test_plan_bounds_by_count_and_bytes():
    sizes = [(f"k{i}", 1000) for i in range(10)]
    assert sorted(set(plan_shards(sizes, 4, 10**9).values())) == [0, 1, 2]
    plan = plan_shards(sizes, 100, 3100)  # 3 samples + end-of-archive blocks fit
    assert [plan[f"k{i}"] for i in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert plan_shards([("big", 10**6), ("small", 10)], 100, 5000) == {"big": 0, "small": 1}


def test_shards_are_sorted_deterministic_and_readable(tmp_path):
    clips = [_clip(i) for i in (5, 3, 9, 1, 7)]
    for run in ("a", "b"):
        with beam.Pipeline() as p:
            p | beam.Create(clips if run == "a" else clips[::-1]) | WriteWebDataset(str(tmp_path / run), "t", 2)
    names = sorted(f.name for f in (tmp_path / "a").iterdir())
    assert names == ["t-000000.tar", "t-000001.tar", "t-000002.tar"]
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


def test_sample_members_sorted():
    names = [n for n, _ in to_sample(_clip(1)).members]
    assert names == sorted(names)
