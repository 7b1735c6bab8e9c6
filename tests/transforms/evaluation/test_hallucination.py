"""Hallucinated attributes: planted captions name instruments, genres and moods their tags do or do not."""

import pytest

from tunescribe.schemas import Attribute, Tag
from tunescribe.transforms.evaluation.hallucination import (
    Support,
    hallucination_report,
    hallucinations,
    named_attributes,
)

TAGS = (Tag("rock", "genre"), Tag("shimmering hi hats", "instrument"), Tag("e-bass", "instrument"),
        Tag("synth sounds", "instrument"), Tag("sad", "mood"), Tag("male vocals", "vocals"),
        Tag("no percussion", "instrument"))


@pytest.mark.parametrize("caption, unsupported", [
    # only what the tags say, in other words and forms
    ("A sad rock song with shimmering hi-hats, a bass and a synthesizer.", []),
    ("The rock song features male vocals singing over hi hats and synths. It sounds sad.", []),
    ("There is no percussion and no piano in this song.", []),  # absences are not claims
    ("The band plays a simple beat in the background; it is melodic.", []),  # prose, not attributes
    # planted attributes
    ("A sad rock song with a piano.", [("piano", "instrument")]),
    ("An energetic rock song with an electric guitar.", [("energetic", "mood"), ("electric guitar", "instrument")]),
    ("A sad jazz ballad.", [("jazz", "genre"), ("ballad", "genre")]),
    ("Perfect for a party, this heavy metal track is sad.", [("party", "mood"), ("heavy metal", "genre")]),
])
def test_planted_captions(caption, unsupported):
    assert hallucinations(caption, TAGS) == unsupported


def test_multiword_names_and_attribute_inputs():
    assert named_attributes("drum and bass with a drum machine, happy") == [
        ("drum and bass", "genre"), ("drum machine", "instrument"), ("happy", "mood")]
    # "snare drum and bass drum": the genre "drum and bass" is read, but its words are the tags' own
    assert hallucinations("A song with snare drum and bass drum.", [Tag("snare drum", "instrument"),
                                                                   Tag("bass drum", "instrument")]) == []
    attrs = [Attribute("key", value="A minor"), {"name": "tempo", "value": None, "number": 120.0}]
    support = Support.of([{"name": "piano", "category": "instrument", "origin": "manifest"}], attrs)
    assert support.supports("piano") and support.supports("minor") and not support.supports("violin")
    # a tag an LLM predicted is an output, not an input
    assert hallucinations("A sitar.", [Tag("sitar", "instrument", origin="llm:x")]) == [("sitar", "instrument")]
    assert hallucinations("An instrumental piece.", [Tag("no vocals", "vocals")]) == []


def test_report_counts_captions_not_words():
    report = hallucination_report(
        ["A sad piano and violin piece.", "A sad song.", "A happy song."],
        [([Tag("sad", "mood")], ()), ([Tag("sad", "mood")], ()), ([Tag("sad", "mood")], [])])
    assert report.rate == pytest.approx(2 / 3)
    assert report.as_dict() == {
        "hallucination_rate": pytest.approx(2 / 3), "hallucination_checked": 3, "captions_with_hallucination": 2,
        "hallucinated_by_category": {"instrument": 2, "mood": 1},
        "top_unsupported": {"piano": 1, "violin": 1, "happy": 1}}
    assert hallucination_report([], []).rate is None
