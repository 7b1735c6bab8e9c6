"""The shared tag vocabulary: every source's spelling maps onto one name and category; nothing is dropped."""

import pytest

from tunescribe.schemas import TAG_CATEGORIES
from tunescribe.transforms.ingest.vocabulary import SYNONYMS, TABLE, categorise


@pytest.mark.parametrize("raw,expected", [
    # MTG-Jamendo: the prefix is the category, run-together names get their spelling
    ("genre---easylistening", ("easy listening", "genre")),
    ("instrument---acousticguitar", ("acoustic guitar", "instrument")),
    ("mood/theme---happy", ("happy", "mood")),
    ("genre---somethingnew", ("somethingnew", "genre")),  # unknown name, known prefix
    # MagnaTagATune: misspellings and merged variants
    ("clasical", ("classical", "genre")), ("harpsicord", ("harpsichord", "instrument")),
    ("no voice", ("no vocals", "vocals")), ("female", ("female vocals", "vocals")), ("fast", ("fast", "tempo")),
    # MusicCaps free-form aspects: kept as written, category from their words
    ("low quality", ("low quality", "quality")), ("soft female vocal", ("soft female vocal", "vocals")),
    ("mellow piano melody", ("mellow piano melody", "instrument")), ("slow tempo", ("slow tempo", "tempo")),
    ("country feel", ("country feel", "genre")), ("relaxing melody", ("relaxing melody", "mood")),
    ("shimmering hi hats", ("shimmering hi hats", "instrument")), ("live performance", ("live performance", "quality")),
    ("120 bpm", ("120 bpm", "tempo")), ("  Female_Vocal ", ("female vocals", "vocals")),
    # unknown: kept under "other"
    ("sound effects", ("sound effects", "other")), ("xyzzy", ("xyzzy", "other")),
])
def test_categorise(raw, expected):
    assert categorise(raw) == expected


def test_every_category_is_a_schema_category_and_every_synonym_resolves():
    assert {cat for _, cat in TABLE.values()} == set(TAG_CATEGORIES) - {"other"}
    assert all(raw in TABLE and TABLE[raw] == TABLE[canonical] for raw, canonical in SYNONYMS.items())


def test_empty_tags_stay_empty():
    assert categorise("   ")[0] == ""
