"""Named manifest layouts of known datasets: the format and column mapping, ready to use.

A config names one (`preset: musiccaps`) and may still override single columns or the format.

- musiccaps: Google MusicCaps' `musiccaps-public.csv` (ytid,start_s,end_s,audioset_positive_labels,
  aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval). Audio: the YouTube video
  `ytid`, range [start_s, end_s); tags: the aspect_list (a Python-style list literal); the human
  caption is kept as a reference caption.
- mtg-jamendo: MTG-Jamendo's autotagging TSVs (TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS, with
  every further TAB-separated cell another `category---tag`); PATH is relative to `audio_root`.
- magnatagatune: MagnaTagATune's `annotations_final.csv` (TAB-separated despite its name:
  clip_id, one 0/1 column per tag, mp3_path); every 1 is a tag.
- generic: the plain mapping (`path` column), for manifests that spell out their columns.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from tunescribe.transforms.ingest.settings import ColumnMapping


@dataclasses.dataclass(frozen=True)
class Preset:
    format: Optional[str]  # None: from the manifest's extension
    columns: ColumnMapping


PRESETS = {
    "musiccaps": Preset("csv", ColumnMapping(
        path=None, id="ytid", youtube_id="ytid", start="start_s", end="end_s", tags=("aspect_list",),
        captions=("caption",))),
    "mtg-jamendo": Preset("tsv", ColumnMapping(
        path="PATH", id="TRACK_ID", track="TRACK_ID", artist="ARTIST_ID", album="ALBUM_ID", tags=("TAGS",),
        tag_separator="\t", trailing_tags=True)),
    "magnatagatune": Preset("tsv", ColumnMapping(path="mp3_path", id="clip_id", tag_flags=("*",))),
    "generic": Preset(None, ColumnMapping()),
}


def preset_mapping(name: str, given: ColumnMapping = ColumnMapping()) -> tuple[Optional[str], ColumnMapping]:
    """(format, columns) of a preset, with the fields set in `given` in place of the preset's."""
    preset = PRESETS[name]
    return preset.format, preset.columns.model_copy(update=given.model_dump(exclude_unset=True))
