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
