"""Template captions: a real sentence from the tags, the same one on every run."""

import numpy as np

from tunescribe.schemas import Clip, Provenance, Tag
from tunescribe.transforms.captions.template import TemplateCaptioner, join_words, write_caption


def _clip(tags, key="k_00000"):
    return Clip(key=key, source_id="s", clip_index=0, start_s=0, end_s=10, sample_rate=16000, channels=1,
                provenance=Provenance("m", "a", "v", "h"), tags=tuple(tags), samples=np.zeros((1, 10)))


def test_sentence_uses_categories():
    tags = [Tag("rock", "genre"), Tag("guitar", "instrument"), Tag("drums", "instrument"), Tag("happy", "mood")]
    text = write_caption(tags, 0)
    assert text == "This rock track features guitar and drums and sounds happy."
    assert write_caption([Tag("lo-fi")], 1) == "A piece of music is described as lo-fi."


def test_join_words():
    assert join_words(["a"]) == "a" and join_words(["a", "b", "c"]) == "a, b and c"


def test_captioner_is_deterministic_and_records_provenance():
    clip = _clip([Tag("piano", "instrument")])
    (a,), (b,) = list(TemplateCaptioner().process(clip)), list(TemplateCaptioner().process(clip))
    assert a.captions == b.captions and len(a.captions) == 1
    cap = a.captions[0]
    assert "piano" in cap.text and (cap.task, cap.backend, cap.prompt_id, cap.prompt_version) == (
        "template", "template", "template-basic", "1")


def test_no_tags_no_caption():
    (out,) = TemplateCaptioner().process(_clip([]))
    assert out.captions == ()
