"""Tag cells of every shape become normalised, categorised, de-duplicated tags."""

from tunescribe.schemas import Tag
from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field


def test_cells_of_every_shape_split():
    assert split_tag_field(None) == []
    assert split_tag_field(["a", None, "b"]) == ["a", "b"]
    assert split_tag_field("rock, pop") == ["rock", " pop"]
    assert split_tag_field('["happy", "sad"]') == ["happy", "sad"]
    # MusicCaps' aspect_list: a Python list literal, quotes of both kinds
    assert split_tag_field("['low quality', \"children's music\", 'sad']") == ["low quality", "children's music", "sad"]
    assert split_tag_field("[not a list") == ["[not a list"]
    assert split_tag_field("a;b", separator=";") == ["a", "b"]


def test_tags_are_normalised_categorised_and_deduplicated():
    tags = normalise_tags(["Rock", "rock ", "genre---ambient", "mood/theme---ambient", "", "xyzzy", "Piano"])
    assert tags == (
        Tag("rock", "genre"), Tag("ambient", "genre"), Tag("ambient", "mood"), Tag("xyzzy", "other"),
        Tag("piano", "instrument"),
    )
    assert all(t.origin == "manifest" for t in tags)
