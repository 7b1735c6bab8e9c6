"""Audio tagging through RunInference with tiny Hugging Face classifiers built from configs (random
weights, saved to a temp dir and loaded back through from_pretrained), and the tag merge rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

apache_beam = pytest.importorskip("apache_beam")
import apache_beam as beam  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402
from tiny_models import LABELS, build_tiny_ast  # noqa: E402

from tunescribe.schemas import Clip, Provenance, Tag  # noqa: E402
from tunescribe.transforms.attributes.settings import TaggerSettings  # noqa: E402
from tunescribe.transforms.attributes.tagging import AudioClassificationHandler, TagAudio, merge_tags  # noqa: E402
from tunescribe.transforms.models.base import Batching  # noqa: E402


def build_tiny_wav2vec2(path, seed=0):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(seed)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_feat_extract_layers=2,
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
                            num_labels=3, id2label={0: "rock", 1: "jazz", 2: "classical"},
                            label2id={"rock": 0, "jazz": 1, "classical": 2})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True).save_pretrained(path)
    return str(path)


def clip(key, seconds=1.5, rate=22050, tags=()):
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * (220 + 10 * len(key)) * t)).astype(np.float32)[None, :]
    return Clip(key=key, source_id=key, clip_index=0, start_s=0.0, end_s=seconds, sample_rate=rate, channels=1,
                provenance=Provenance("in", "uri", "0", "h"), tags=tuple(tags), samples=samples)


@pytest.fixture(scope="module")
def ast_dir(tmp_path_factory):
    return build_tiny_ast(tmp_path_factory.mktemp("tiny-ast"))


def test_handler_scores_every_clip_with_labels_from_the_model(ast_dir):
    handler = AudioClassificationHandler(TaggerSettings(model=ast_dir, top_k=3, threshold=0.0))
    model = handler.load_model()
    assert model.multi_label and model.sample_rate == 16000
    results = list(handler.run_inference([clip("a"), clip("bb", seconds=0.4, rate=48000)], model))
    assert [r.example.key for r in results] == ["a", "bb"]
    for r in results:
        assert len(r.inference) == 3 and all(label in LABELS for label, _ in r.inference)
        scores = [s for _, s in r.inference]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert r.model_id.startswith(ast_dir.rstrip("/").rsplit("/", 1)[-1] + "@local-")


def test_softmax_scores_sum_to_one_for_single_label_models(tmp_path):
    path = build_tiny_ast(tmp_path / "single", multi_label=False)
    handler = AudioClassificationHandler(TaggerSettings(model=path, top_k=len(LABELS), threshold=0.0))
    [result] = handler.run_inference([clip("a")], handler.load_model())
    assert sum(s for _, s in result.inference) == pytest.approx(1.0, abs=1e-5)


def test_sequence_models_get_padded_batches(tmp_path):
    path = build_tiny_wav2vec2(tmp_path / "w2v")
    handler = AudioClassificationHandler(TaggerSettings(model=path, top_k=2, threshold=0.0))
    results = list(handler.run_inference([clip("a", 1.0), clip("b", 0.5)], handler.load_model()))
    assert [len(r.inference) for r in results] == [2, 2]


def test_merge_keeps_origin_and_score_of_both_sides():
    manifest = (Tag("piano", "instrument", "manifest"), Tag("sad", "mood", "manifest"))
    merged = merge_tags(manifest, [("Techno", 0.2), ("Piano", 0.9), ("piano", 0.5)], "tagger@v1")
    assert merged[:2] == manifest
    assert [(t.name, t.origin, t.score) for t in merged[2:]] == [("piano", "tagger@v1", 0.9),
                                                                ("techno", "tagger@v1", 0.2)]
    assert merged[2].category == "instrument" and merged[3].category == "genre"


def test_tag_audio_stage_merges_tags_and_rejects_failed_batches(ast_dir):
    empty = dataclasses.replace(clip("empty"), samples=np.zeros((1, 0), np.float32))  # no audio: AST fails
    clips = [clip("a", tags=[Tag("rock", "genre", "manifest")]), clip("bb"), empty]
    handler = AudioClassificationHandler(TaggerSettings(model=ast_dir, top_k=2, threshold=0.0),
                                         Batching(max_batch_size=1))
    with beam.Pipeline() as p:
        tagged, rejects = p | beam.Create(clips) | TagAudio(handler)
        shape = tagged | beam.Map(lambda c: (c.key, [t.origin.split("@")[0] for t in c.tags]))
        assert_that(shape, equal_to([("a", ["manifest", "tiny-ast0", "tiny-ast0"]),
                                     ("bb", ["tiny-ast0", "tiny-ast0"])]), label="tagged")
        assert_that(rejects | beam.Map(lambda r: (r.key, r.stage, r.reason, bool(r.detail))),
                    equal_to([("empty", "tagging", "inference_failed", True)]), label="rejects")
