"""Segmentation into windows, and the documented tail policy."""

import numpy as np
import pytest

from tunescribe.schemas import DecodedAudio, SourceItem
from tunescribe.transforms.audio.segment import SegmentClips, window_bounds

R = 10  # frames per second, to keep the numbers readable


@pytest.mark.parametrize("n,tail,expected", [
    (250, "keep", [(0, 100), (100, 200), (200, 250)]),
    (250, "pad", [(0, 100), (100, 200), (200, 300)]),
    (250, "drop", [(0, 100), (100, 200)]),
    (210, "keep", [(0, 100), (100, 200)]),  # 1 s tail < min_tail_s 2 s
    (200, "keep", [(0, 100), (100, 200)]),
    (40, "drop", [(0, 40)]),  # shorter than a window: one clip, whatever the policy
])
def test_window_bounds(n, tail, expected):
    assert window_bounds(n, R, 10.0, 10.0, tail, 2.0) == expected


def test_hop_gives_overlapping_windows():
    assert window_bounds(200, R, 10.0, 5.0, "drop", 2.0) == [(0, 100), (50, 150), (100, 200)]


def test_clips_carry_item_metadata_and_times():
    item = SourceItem("s1", "/a.ogg", "m.csv", (0, 1), artist_id="ar", licence="CC0", start_s=30.0, end_s=55.0)
    audio = DecodedAudio(item, np.ones((1, 25 * R), np.float32), R, offset_s=30.0)
    clips = list(SegmentClips(10.0, 10.0, "pad", 2.0, tool_version="9.9", config_hash="abc").process(audio))
    assert [(c.clip_index, c.start_s, c.end_s) for c in clips] == [(0, 30.0, 40.0), (1, 40.0, 50.0), (2, 50.0, 60.0)]
    assert [c.key for c in clips] == [f"{item.key}_{i:05d}" for i in range(3)]
    assert all("." not in c.key and "/" not in c.key for c in clips)
    assert clips[2].samples.shape == (1, 100) and clips[2].samples[0, 50:].max() == 0  # padded
    assert clips[0].artist_id == "ar" and clips[0].licence == "CC0"
    assert clips[0].provenance.config_hash == "abc" and clips[0].provenance.source_uri == "/a.ogg"


def test_cutting_as_the_audio_comes_gives_the_same_windows_holding_one_at_a_time():
    """cut_stream over blocks of any size = window_bounds over the whole, sample for sample; and it
    holds about a window, not the source (numpy reports its buffers to tracemalloc)."""
    import tracemalloc

    from tunescribe.transforms.audio.segment import cut_stream

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, channels = int(rng.integers(1, 5000)), int(rng.integers(1, 3))
        x = rng.standard_normal((channels, n)).astype(np.float32)
        window = float(rng.choice([1.0, 2.5, 10.0]))
        hop = float(rng.choice([window, window / 2]))
        tail, min_tail = str(rng.choice(["keep", "pad", "drop"])), float(rng.choice([0.0, 0.5, 2.0]))
        cuts = sorted({0, n, *rng.integers(0, n, int(rng.integers(0, 20))).tolist()})
        blocks = [x[:, a:b] for a, b in zip(cuts[:-1], cuts[1:])]
        got = list(cut_stream(iter(blocks), 100, window, hop, tail, min_tail))
        assert [(lo, hi) for lo, hi, _ in got] == window_bounds(n, 100, window, hop, tail, min_tail)
        for lo, hi, pcm in got:
            assert np.array_equal(pcm, np.pad(x[:, lo:min(hi, n)], ((0, 0), (0, hi - min(hi, n)))))

    def ten_minutes():  # 48 kHz mono in 64k-frame blocks, never whole
        for _ in range(10 * 60 * 48000 // 65536):
            yield np.ones((1, 65536), np.float32)

    tracemalloc.start()
    for _ in cut_stream(ten_minutes(), 48000, 10.0, 10.0, "keep", 2.0):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 480000 * 4  # a few windows of 10 s, where the source is 115 MB
