"""Prompt templates (LP-MusicCaps' four tasks word for word, plus short and key facts) and reading
the answers (parse.py): good answers in their real-world shapes, malformed ones as rejects."""

from __future__ import annotations

import json

import pytest

from tunescribe.schemas import Attribute, Clip, Provenance, Tag
from tunescribe.transforms.captions.parse import read_answer, read_attribute_prediction, read_key_facts, read_text
from tunescribe.transforms.captions.prompts import TEXT_PROMPTS, get_prompt, prompt_inputs
from tunescribe.transforms.stage import Rejected

# lpmc/llm_captioning/generate.py, prompt_dict["writing"|...]["plural"].
LPMC_PLURAL = {
    "writing": "write a song description sentence including the following attributes.",
    "summary": "write a single sentence that summarize a song with the following attributes. "
               "Don't write artist name or album name.",
    "paraphrase": "write a song description sentence including the following attributes. "
                  "paraphraze paraphrasing is acceptable.",
    "attribute_prediction": "write the answer as a python dictionary with new_attribute and description as keys. "
                            "for new_attribute, write new attributes with high co-occurrence with the following "
                            "attributes. for description, write a song description sentence including the following "
                            "attributes and new attributes.",
}


def clip(tags=(), attributes=()) -> Clip:
    return Clip(key="k", source_id="s", clip_index=0, start_s=0, end_s=1, sample_rate=16000, channels=1,
                provenance=Provenance("i", "s", "0", "h"), tags=tuple(tags), attributes=tuple(attributes))


@pytest.mark.parametrize("task", sorted(LPMC_PLURAL))
def test_lp_musiccaps_instructions_and_layout_are_the_papers(task):
    prompt = get_prompt(task)
    assert prompt.plural == LPMC_PLURAL[task]
    assert prompt.render(["rock", "guitar"]) == (("user", f"{LPMC_PLURAL[task]} \n rock, guitar"),)
    (_, single), = prompt.render(["rock"])
    assert single.startswith(prompt.singular) and "single attribute" in single and single.endswith(" \n rock")


def test_templates_are_named_and_versioned():
    refs = [p.ref for p in TEXT_PROMPTS]
    assert len(set(refs)) == len(refs)
    assert {p.task for p in TEXT_PROMPTS} == {*LPMC_PLURAL, "short", "key_facts"}
    assert get_prompt("writing") is get_prompt("lpmc-writing") is get_prompt("lpmc-writing@1") is get_prompt("writing@1")
    with pytest.raises(ValueError, match="unknown prompt 'writing@9'"):
        get_prompt("writing@9")


def test_inputs_are_tags_then_attributes_without_predicted_tags():
    c = clip(tags=[Tag("rock", "genre"), Tag("rock", "other"), Tag("guitar", "instrument"),
                   Tag("harmonica", "instrument", origin="llm:some-model")],
             attributes=[Attribute("tempo", number=92.4), Attribute("key", value="F# minor"),
                         Attribute("mode", value="minor mode"), Attribute("empty")])
    assert prompt_inputs(c) == ["rock", "guitar", "92 bpm", "F# minor key", "minor mode"]
    assert prompt_inputs(clip()) == []  # nothing to prompt on: the stage makes no request


@pytest.mark.parametrize("raw, new, description", [
    # Two real answers from LP-MusicCaps' published GPT-3.5 outputs (exp/caption_attribute_prediction).
    ("{'new_attribute': 'blues guitar, harmonica', 'description': 'A retro rock hit with blues guitar.'}",
     ["blues guitar", "harmonica"], "A retro rock hit with blues guitar."),
    ("{'new_attribute': ['distortion', 'power chords'], 'description': \"An uptempo rock song.\"}",
     ["distortion", "power chords"], "An uptempo rock song."),
    ('Sure! Here it is:\n```json\n{"new_attribute": ["sitar"], "description": "A raga {live}."}\n```',
     ["sitar"], "A raga {live}."),
    ('{"new_attributes": [], "description": "  \\"Calm piano.\\"  "}', [], "Calm piano."),
])
def test_attribute_prediction_answers_are_read(raw, new, description):
    assert read_attribute_prediction(raw) == (description, new)
    assert read_answer("attribute_prediction", raw) == (description, new)


@pytest.mark.parametrize("raw, why", [
    ("This song is a calm piano piece.", "no dictionary"),
    ("{'new_attribute': ['x'], 'description': ", "no dictionary"),
    ("{'new_attribute': ['x']}", "no description"),
    ("{'new_attribute': 3, 'description': 'a song'}", "new_attribute"),
])
def test_malformed_attribute_prediction_is_a_reject_with_the_raw_text(raw, why):
    with pytest.raises(Rejected) as err:
        read_attribute_prediction(raw)
    assert err.value.reason == "malformed_attribute_prediction"
    assert why in err.value.detail and repr(raw)[1:-1][:30] in err.value.detail


def test_key_facts_are_canonical_json():
    raw = 'Here: {"mood": "happy, upbeat", "genre": ["rock"], "tempo": 120, "extra": 1, "key": null}'
    facts = json.loads(read_key_facts(raw))
    assert facts == {"genre": ["rock"], "instruments": [], "mood": ["happy", "upbeat"], "tempo": "120",
                     "key": None, "vocals": None, "description": None}
    assert read_key_facts(raw) == json.dumps(facts, sort_keys=True)
    for bad in ("no json here", '{"unrelated": 1}', '{"genre": {"a": 1}}'):
        with pytest.raises(Rejected) as err:
            read_key_facts(bad)
        assert err.value.reason == "malformed_key_facts" and "raw output" in err.value.detail


def test_plain_answers_are_cleaned_and_empty_ones_rejected():
    assert read_text(' "A  calm\x07 piano\n piece." ') == "A calm piano piece."
    for empty in ("", "  \n ", '""', "\x00\x01"):
        with pytest.raises(Rejected, match="empty_caption"):
            read_text(empty)
