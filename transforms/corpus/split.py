"""Assigns train / valid / test by hashing a grouping key, so a group never spans two splits.

The group is the `group_by` field (artist by default), falling back to finer ids when it is
missing. Held-out lists name ids (of any of the group fields) that must not be trained on:
- `force_test`: the whole group of every listed item goes to test — so an artist with one
  held-out track has all of its tracks in test, and none leaks into train or valid;
- `exclude`: listed items are left out of the corpus, as rejects with reason `held_out`.
The groups to force are found from all items before any clip is split (`ForcedTestGroups`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Mapping, Optional, Sequence

import apache_beam as beam

from tunescribe.schemas import Clip
from tunescribe.transforms.stage import Rejected

GROUP_FIELDS = ("artist_id", "album_id", "track_id", "source_id")
TEST = "test"
IdLists = Mapping[str, Sequence[str]]  # group field -> ids


def group_of(record, group_by: str) -> str:
    """The grouping value of a clip or source item: the `group_by` field, falling back to finer
    ones when it is missing."""
    for name in GROUP_FIELDS[GROUP_FIELDS.index(group_by):]:
        value = getattr(record, name)
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


def _as_sets(lists: Optional[IdLists]) -> dict[str, frozenset]:
    lists = dict(lists or {})
    unknown = set(lists) - set(GROUP_FIELDS)
    if unknown:
        raise ValueError(f"held-out lists can name {GROUP_FIELDS}, not {sorted(unknown)}")
    return {field: frozenset(ids) for field, ids in lists.items() if ids}


def listed_in(record, lists: dict[str, frozenset]) -> Optional[str]:
    """`field=value` of the first of the record's ids found in `lists`, or None."""
    for field, ids in lists.items():
        value = getattr(record, field)
        if value and value in ids:
            return f"{field}={value}"
    return None


class ForcedTestGroups(beam.PTransform):
    """Source items -> one frozenset: the groups that hold an item on a `force_test` list."""

    def __init__(self, force_test: Optional[IdLists], group_by: str = "artist_id"):
        super().__init__()
        self.force_test, self.group_by = _as_sets(force_test), group_by

    def expand(self, items):
        lists, group_by = self.force_test, self.group_by
        return (
            items
            | "Listed" >> beam.FlatMap(lambda item: [group_of(item, group_by)] if listed_in(item, lists) else [])
            | "ToSet" >> beam.combiners.ToSet()
            | "Freeze" >> beam.Map(frozenset)
        )


class AssignSplit(beam.DoFn):
    """Clip -> clip with its split; clips on an `exclude` list are rejected (`held_out`).

    `forced` (a side input from ForcedTestGroups) holds the groups that go to test whatever
    their hash says."""

    def __init__(self, ratios: dict[str, float], group_by: str = "artist_id",
                 exclude: Optional[IdLists] = None):
        if group_by not in GROUP_FIELDS:
            raise ValueError(f"group_by must be one of {GROUP_FIELDS}")
        self.ratios, self.group_by = dict(ratios), group_by
        self.exclude = _as_sets(exclude)

    def process(self, clip: Clip, forced: frozenset = frozenset()):
        held = listed_in(clip, self.exclude)
        if held:
            raise Rejected("held_out", f"{held} is on the split.exclude list")
        group = group_of(clip, self.group_by)
        split = TEST if group in forced else split_for(group, self.ratios)
        yield dataclasses.replace(clip, split=split)
