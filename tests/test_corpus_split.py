"""Split assignment: deterministic, by group, close to the configured ratios."""

import collections

from tunescribe.schemas import Clip, Provenance
from tunescribe.transforms.corpus.split import AssignSplit, group_of, split_for


def _clip(artist=None, track=None, source="s"):
    return Clip(key="k_00000", source_id=source, clip_index=0, start_s=0, end_s=1, sample_rate=8000, channels=1,
                provenance=Provenance("m", "a", "v", "h"), artist_id=artist, track_id=track)


def test_group_falls_back_to_finer_ids():
    assert group_of(_clip(artist="a1", track="t1"), "artist_id") == "artist_id=a1"
    assert group_of(_clip(track="t1"), "artist_id") == "track_id=t1"
    assert group_of(_clip(), "artist_id") == "source_id=s"


def test_ratios_are_respected_and_groups_stay_together():
    ratios = {"train": 0.8, "valid": 0.1, "test": 0.1}
    counts = collections.Counter(split_for(f"artist_id=a{i}", ratios) for i in range(20000))
    for name, r in ratios.items():
        assert abs(counts[name] / 20000 - r) < 0.015
    fn = AssignSplit(ratios)
    splits = {next(fn.process(_clip(artist="same", source=f"s{i}"))).split for i in range(50)}
    assert len(splits) == 1
