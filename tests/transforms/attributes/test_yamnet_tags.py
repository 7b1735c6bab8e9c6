"""The YAMNet tagger on the real quantised model (fetched by the `yamnet_folder` fixture): its
features and graph reading, batching, the stage's decisions on audio-dev (silence, speech, the
rendered pieces) and on signals whose drums we know, and the offline captions naming what it found.

Floors come from measurements (benchmarks/tagger.py, README "YAMNet tagger"): on audio-dev's 10 s
clips the silence clip is tagged only "silence" (0.99), the speech clip only "speech" (0.95),
the Corelli organ piece "organ" and the Bach chorale on piano "piano".
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
import pytest
import soundfile as sf
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.pipelines.music_analysis import yamnet_folder as configured_yamnet
from tunescribe.schemas import Clip, Provenance, Tag
from tunescribe.transforms.attributes.yamnet_tags import (
    TagWithYamnet,
    clip_tags,
    drum_probability,
    high_band_flux,
    percussive_share,
)
from tunescribe.transforms.captions.offline import write_captions
from tunescribe.transforms.models.base import Batching
from tunescribe.transforms.models.yamnet import PATCH_FRAMES, YamnetHandler, graph_scalars, patches

RATE = 48000


def dev_clip(audio_dev, name: str, seconds: float = 10.0, tags=()) -> Clip:
    samples, rate = sf.read(str(audio_dev / name), dtype="float32", always_2d=True)
    samples = np.ascontiguousarray(samples.T[:1, : int(seconds * rate)])
    return Clip(key=name, source_id=name, clip_index=0, start_s=0.0, end_s=samples.shape[1] / rate,
                sample_rate=rate, channels=1, provenance=Provenance("in", "uri", "0", "h"), tags=tuple(tags),
                samples=samples)


@pytest.fixture(scope="module")
def handler(yamnet_folder):
    return YamnetHandler(str(yamnet_folder))


@pytest.fixture(scope="module")
def model(handler):
    return handler.load_model()


def names(handler, model, clip):
    (result,) = handler.run_inference([clip], model)
    return [name for name, _ in clip_tags(clip, result.inference)]


def test_quantisation_is_read_from_the_graph_and_its_batch_dimension_is_fixed(yamnet_folder, model):
    q = graph_scalars(str(yamnet_folder / "model.onnx"), ["audio_scale", "audio_zero_point",
                                                         "class_scores_scale", "class_scores_zero_point"])
    assert q["audio_zero_point"] == 144 and q["class_scores_zero_point"] == 190
    assert q["class_scores_scale"] == pytest.approx(0.7565, abs=1e-4)
    # log(0.001), the log of silence, is the input's lowest value: the offset YAMNet was trained with
    assert -q["audio_zero_point"] * q["audio_scale"] == pytest.approx(np.log(0.001), abs=0.01)
    assert model.batch == 1 and len(model.labels) == 521 and model.labels[494] == "Silence"


def test_patches_hop_half_a_patch_and_short_audio_gets_one():
    assert patches(np.zeros(16000 * 10, np.float32)).shape == (19, PATCH_FRAMES, 64)
    assert patches(np.zeros(800, np.float32)).shape == (1, PATCH_FRAMES, 64)


class CountingSession:
    """The real session, counting its calls and the patches each call carried."""

    def __init__(self, session):
        self.session, self.calls = session, []

    def run(self, outputs, feeds):
        self.calls.append(len(next(iter(feeds.values()))))
        return self.session.run(outputs, feeds)


def test_a_batch_of_clips_scores_as_each_clip_alone_one_patch_per_call(audio_dev, handler, model):
    clips = [dev_clip(audio_dev, n, s) for n, s in (("silence_10s.ogg", 3), ("speech_en.ogg", 2),
                                                    ("bach_bwv66_6.ogg", 4))]
    alone = [r.inference.scores for c in clips for r in handler.run_inference([c], model)]
    counting = dataclasses.replace(model, session=CountingSession(model.session))
    together = list(handler.run_inference(clips, counting))
    assert [r.example.key for r in together] == [c.key for c in clips]
    for a, r in zip(alone, together):
        np.testing.assert_array_equal(a, r.inference.scores)
    assert counting.session.calls == [1] * sum(len(a) for a in alone)  # the graph takes one patch a call
    assert together[0].model_id.startswith(f"{handler.model_identity()[0]}@")


def test_silence_and_speech_get_only_their_own_tag(audio_dev, handler, model):
    assert names(handler, model, dev_clip(audio_dev, "silence_10s.ogg")) == ["silence"]
    assert names(handler, model, dev_clip(audio_dev, "speech_en.ogg")) == ["speech"]


def test_rendered_pieces_get_their_instrument_and_no_drums(audio_dev, handler, model):
    assert names(handler, model, dev_clip(audio_dev, "corelli_opus3no1_1grave.ogg")) == ["organ"]
    assert names(handler, model, dev_clip(audio_dev, "bach_bwv66_6.ogg")) == ["piano"]


def tone_mix(with_drums: bool, seconds: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220, 277, 330, 440))
    if with_drums:  # a noise burst every 250 ms, decaying in 30 ms: hi-hat and snare-like transients
        burst = rng.standard_normal(int(0.05 * RATE)) * np.exp(-np.arange(int(0.05 * RATE)) / (0.03 * RATE / 5))
        for start in range(0, len(t) - len(burst), int(0.25 * RATE)):
            x[start:start + len(burst)] += 0.3 * burst
    return x.astype(np.float32)


def test_drum_measures_tell_transients_from_sustained_tones():
    plain, drums = tone_mix(False), tone_mix(True)
    import soxr

    shares = [percussive_share(soxr.resample(x, RATE, 16000)) for x in (plain, drums)]
    fluxes = [high_band_flux(x, RATE) for x in (plain, drums)]
    assert shares[1] > 1.3 * shares[0] and fluxes[1] > 1e6 * fluxes[0]  # measured: 1.44x and 1e11x
    assert drum_probability(shares[0], fluxes[0], 0.0) < 0.5 < drum_probability(shares[1], fluxes[1], 0.0)
    assert high_band_flux(plain[::3], RATE // 3) is None  # 16 kHz has no 8-12 kHz band: drums go unsaid


def test_stage_tags_clips_with_origin_and_captions_name_the_instrument(audio_dev, handler):
    organ = dev_clip(audio_dev, "corelli_opus3no1_1grave.ogg")
    tagged_input = dev_clip(audio_dev, "bach_bwv66_6.ogg", tags=[Tag("harpsichord", "instrument")])
    handler = YamnetHandler(handler.folder, Batching(max_batch_size=2))
    origin = "@".join(handler.model_identity())
    with beam.Pipeline() as p:
        tagged, rejects = p | beam.Create([organ, tagged_input]) | TagWithYamnet(handler)
        shape = tagged | beam.Map(lambda c: (c.key, [(t.name, t.category, t.origin) for t in c.tags]))
        assert_that(shape, equal_to([
            ("corelli_opus3no1_1grave.ogg", [("organ", "instrument", origin)]),
            ("bach_bwv66_6.ogg", [("harpsichord", "instrument", "manifest"), ("piano", "instrument", origin)])]),
            label="tags")
        assert_that(rejects, equal_to([]), label="rejects")
        captions = tagged | beam.Map(lambda c: (c.key, write_captions(c.tags, key=c.key, tasks=("writing",))))
        assert_that(captions | beam.Map(lambda kc: (kc[0], "organ" in kc[1]["writing"].lower(),
                                                    "piano" in kc[1]["writing"].lower())),
                    equal_to([("corelli_opus3no1_1grave.ogg", True, False),
                              ("bach_bwv66_6.ogg", False, False)]), label="captions")
    # music that came with tags is described by them alone: the tagger's piano goes unsaid
    both = (Tag("harpsichord", "instrument"), Tag("piano", "instrument", origin, 0.4))
    assert "piano" not in " ".join(write_captions(both, key="c").values()).lower()


def test_config_names_yamnet_by_its_folder_or_name(yamnet_folder, tmp_path):
    assert configured_yamnet(str(yamnet_folder)) == str(yamnet_folder)
    assert configured_yamnet("yamnet") == str(yamnet_folder)  # the fetched copy (fetched once per cache)
    assert configured_yamnet(str(tmp_path)) is None  # any other folder: a Hugging Face classifier


def test_a_build_of_untagged_music_captions_what_yamnet_found(audio_dev, yamnet_folder, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    from tunescribe.pipelines.commands.build import run_build
    from tunescribe.pipelines.config import load_config

    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(audio_dev / "corelli_opus3no1_1grave.ogg", music)
    (tmp_path / "config.yaml").write_text(
        f"name: y\noutput: out\ninputs: [{{type: folder, path: {music}}}]\nsegment: {{window_s: 10}}\n"
        f"attributes: {{extractors: []}}\nstats: {{speech: false}}\ntagging: {{model: {yamnet_folder}}}\n"
        "quality: {require_caption: false}\n")
    cfg = load_config(str(tmp_path / "config.yaml"))
    run_build(cfg, [])
    rows = pq.read_table(f"{cfg.output}/clips").to_pylist()
    assert len(rows) == 3
    origin = "@".join(YamnetHandler(str(yamnet_folder)).model_identity())
    named = [r for r in rows if any(t["name"] == "organ" and t["origin"] == origin for t in r["tags"])]
    assert len(named) >= 2  # measured: the organ is named on all 3 clips
    for row in named:
        assert any("organ" in c["text"].lower() for c in row["captions"])
