"""Assigns train / valid / test by hashing a grouping key, so a group never spans two splits."""

from __future__ import annotations

import dataclasses
import hashlib

import apache_beam as beam

from tunescribe.schemas import Clip

GROUP_FIELDS = ("artist_id", "album_id", "track_id", "source_id")


def group_of(clip: Clip, group_by: str) -> str:
    """The grouping value: the `group_by` field, falling back to finer ones when it is missing."""
    for name in GROUP_FIELDS[GROUP_FIELDS.index(group_by):]:
        value = getattr(clip, name)
        if value:
            return f"{name}={value}"
    raise AssertionError("source_id is never empty")


def split_for(group: str, ratios: dict[str, float]) -> str:
    """Maps a group to a split: a uniform hash in [0, 1) against the cumulative ratios."""
    u = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:15], 16) / 16**15
    total = sum(ratios.values())
    edge = 0.0
    for name, ratio in ratios.items():
        edge += ratio / total
        if u < edge:
            return name
    return name


class AssignSplit(beam.DoFn):
    def __init__(self, ratios: dict[str, float], group_by: str = "artist_id"):
        if group_by not in GROUP_FIELDS:
            raise ValueError(f"group_by must be one of {GROUP_FIELDS}")
        self.ratios, self.group_by = dict(ratios), group_by

    def process(self, clip: Clip):
        yield dataclasses.replace(clip, split=split_for(group_of(clip, self.group_by), self.ratios))
