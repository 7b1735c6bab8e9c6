"""Model captions with real (tiny, random-weight) models: the full build on the DirectRunner, and
the stage's own guarantees (every request ends as a caption or a reject; batching does not
change a caption; a failing batch loses no clip)."""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from audio_files import write_audio
from caption_helpers import _SEEN, _keep, make_clip, read_outputs, run_stage
from tiny_models import build_causal_lm, build_whisper

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.schemas.layout import WORK_DIR
from tunescribe.transforms.captions.model_captions import Captioner, InCaptionOrder, ModelCaptions
from tunescribe.transforms.captions.prompts import get_prompt, prompt_inputs
from tunescribe.transforms.captions.redo import Redo
from tunescribe.transforms.models.audio_seq2seq import AudioSeq2SeqHandler
from tunescribe.transforms.models.base import Batching, ModelSource
from tunescribe.transforms.models.causal_lm import CausalLMHandler
from tunescribe.transforms.models.generation import GenerationParams, TextRequest, derive_seed
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates

TEXT_TASKS = ["writing", "summary", "paraphrase", "attribute_prediction", "short", "key_facts"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return build_causal_lm(root / "tiny-lm"), build_whisper(root / "tiny-whisper")


def write_corpus(root, lm, whisper, extra_models=""):
    write_audio(root / "a.wav", 4.0, rate=44100, freq=440)
    write_audio(root / "b.wav", 9.0, rate=22050, freq=330)
    write_audio(root / "c.wav", 3.0, freq=550)
    rows = [{"file": "a.wav", "tags": "rock, electric guitar, energetic"},
            {"file": "b.wav", "tags": "jazz"}, {"file": "c.wav", "tags": ""}]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = root / "config.yaml"
    config.write_text(f"""
name: tiny
output: out
inputs:
  - type: manifest
    path: manifest.jsonl
    columns: {{path: file, tags: tags}}
audio: {{sample_rate: 32000}}
segment: {{window_s: 5.0}}
quality: {{min_duration_s: 1.0, max_silence_ratio: 1.0}}
captions:
  models:
    - backend: transformers
      name: lm
      model: ./{lm.name}
      tasks: {json.dumps(TEXT_TASKS)}
      generation: {{max_new_tokens: 10, temperature: 0.8, top_k: 50, seed: 7}}
      batch_size: 8
    - backend: transformers-audio
      name: whisper
      model: {whisper}
      generation: {{max_new_tokens: 5}}
      batch_audio_s: 10
{extra_models}""")
    return config


def test_build_with_local_models_captions_every_clip_or_rejects(models, tmp_path):
    lm, whisper = models
    lm.rename(tmp_path / lm.name)  # a model folder relative to the config file
    config = write_corpus(tmp_path, tmp_path / lm.name, whisper)
    try:
        stats = run_build(load_config(str(config)), [])
    finally:
        (tmp_path / lm.name).rename(lm)
    assert stats["sources"] == {"ingested": 3, "accepted": 3, "rejected": 0}
    final, rejects = read_outputs(tmp_path / "out")
    # The quality stage may drop captions (a random model writes gibberish); every caption the
    # model stage wrote is in the candidates file the quality decisions start from.
    clips = read_candidates(str(tmp_path / "out" / WORK_DIR / CANDIDATES_FILE))
    assert len(clips) == 4  # a: 1 clip, b: 2 clips (5 s + 4 s tail), c: 1 clip
    assert [len(prompt_inputs(c)) > 0 for c in clips].count(True) >= 3  # a and b have manifest tags
    assert sorted(c["key"] for c in final) == sorted(c.key for c in clips)
    caption_rejects = [r for r in rejects if r["stage"] == "captions"]
    for clip in clips:
        by_task = {c.task: c for c in clip.captions}
        tagged = bool(prompt_inputs(clip))  # manifest tags, or tags/attributes the music analysis added
        # Every text prompt of a clip with inputs ended as a caption or as a reject naming it.
        for task in TEXT_TASKS:
            rejected = [r for r in caption_rejects if r["key"] == clip.key and f" {task} (" in r["detail"]]
            assert (task in by_task) + len(rejected) == (1 if tagged else 0), (clip.key, task)
        for task, cap in by_task.items():
            if task == "template":
                continue
            prompt = get_prompt(task if task != "audio_caption" else "audio-direct")
            assert (cap.prompt_id, cap.prompt_version) == (prompt.id, prompt.version)
            assert cap.model_revision.startswith("local-")
            assert cap.seed == derive_seed(7 if task != "audio_caption" else 0, clip.key, prompt.ref)
            assert cap.completion_tokens >= 1 and cap.text.strip()
        audio = by_task["audio_caption"]  # every clip has audio, tagged or not
        assert (audio.backend, audio.model_id) == ("transformers-audio", "tiny-whisper")
        if tagged:
            writing = by_task["writing"]
            assert (writing.backend, writing.model_id) == ("transformers", "tiny-lm")
            assert writing.prompt_tokens > 10
    # A random model cannot write LP-MusicCaps' dictionary or the key-facts JSON: rejects, raw text kept.
    reasons = {r["reason"] for r in caption_rejects}
    assert reasons <= {"malformed_attribute_prediction", "malformed_key_facts", "empty_caption"}
    assert "malformed_attribute_prediction" in reasons
    assert all("raw output: " in r["detail"] for r in caption_rejects)
    assert stats["rejects"]["by_reason"].get("captions/malformed_attribute_prediction", 0) >= 1


def test_missing_model_folder_is_a_config_error_before_any_work(models, tmp_path):
    lm, whisper = models
    config = write_corpus(tmp_path, tmp_path / "no-such-model", whisper)
    with pytest.raises(ConfigError, match="no model folder"):
        run_build(load_config(str(config)), [])
    assert not (tmp_path / "out" / "stats.json").exists()


def test_batching_does_not_change_a_sampled_caption(models):
    lm, _ = models
    params = GenerationParams(max_new_tokens=12, temperature=1.0, top_p=0.95, seed=3)
    handler = CausalLMHandler(ModelSource(model=str(lm)), params, Batching(max_batch_size=8))
    loaded = handler.load_model()
    prompt = get_prompt("writing")
    requests = [TextRequest(prompt.render(tags), derive_seed(3, str(i), prompt.ref))
                for i, tags in enumerate([["rock"], ["jazz", "piano", "slow tempo", "sad"], ["pop", "synth"]])]
    together = handler.run_inference(requests, loaded)
    alone = [handler.run_inference([r], loaded)[0] for r in requests]
    reordered = handler.run_inference(requests[::-1], loaded)[::-1]
    assert [g.text for g in together] == [g.text for g in alone] == [g.text for g in reordered]
    assert len({g.text for g in together}) == 3
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone]
    # Different seeds sample differently.
    other = handler.run_inference([TextRequest(requests[0].messages, requests[0].seed + 1)], loaded)[0]
    assert other.text != together[0].text


def test_failing_batch_keeps_every_clip_and_rejects_each_request(models):
    _, whisper = models
    # The tiny Whisper decodes at most 128 positions: asking for more fails every generate call.
    handler = AudioSeq2SeqHandler(ModelSource(model=str(whisper)), GenerationParams(max_new_tokens=500),
                                  Batching(max_batch_size=4))
    clips = [make_clip(f"k{i}", ("rock",)) for i in range(3)]
    kept, rejects = run_stage(Captioner("whisper", handler, (get_prompt("audio-direct"),)), clips)
    assert sorted(c.key for c in kept) == ["k0", "k1", "k2"]
    assert all(c.captions == () for c in kept)
    assert sorted(r.key for r in rejects) == ["k0", "k1", "k2"]
    assert {r.reason for r in rejects} == {"inference_failed"} and {r.stage for r in rejects} == {"captions"}
    # Of the moment (memory, a device): a rerun asks again for exactly these captions.
    assert all(r.transient and r.part == "whisper/audio-direct@1" for r in rejects)
    assert all("max_target_positions" in r.detail or "128" in r.detail for r in rejects), rejects[0].detail


def test_audio_batches_are_sized_by_audio_length(models):
    _, whisper = models
    handler = RecordingAudioHandler(ModelSource(model=str(whisper)), GenerationParams(max_new_tokens=3),
                                    Batching(max_batch_size=6))
    clips = [make_clip(f"k{i}", (), seconds=s) for i, s in enumerate([2.0, 2.0, 2.0, 5.0, 5.0, 1.0])]
    kept, rejects = run_stage(Captioner("whisper", handler, (get_prompt("audio-direct"),)), clips)
    assert not rejects and all(len(c.captions) == 1 for c in kept)
    sizes = _SEEN["batch_seconds"]
    assert max(sizes) <= 6.0 and sum(sizes) == 17.0 and len(sizes) >= 3


class RecordingAudioHandler(AudioSeq2SeqHandler):
    def run_inference(self, batch, model, inference_args=None):
        _keep(sum(r.duration_s for r in batch), "batch_seconds")
        return super().run_inference(batch, model, inference_args)


def captioned_by(captioners, elements):
    """Every captioner's ModelCaptions in turn, then InCaptionOrder, on the DirectRunner."""
    _SEEN.clear()
    with beam.Pipeline(options=PipelineOptions([])) as p:
        out = p | beam.Create(elements, reshuffle=False)
        for n, c in enumerate(captioners):
            out, _ = out | f"Captions{n}" >> ModelCaptions(c)
        out | beam.ParDo(InCaptionOrder(captioners)) | beam.Map(_keep, "clips")
    return _SEEN["clips"]


def test_a_redo_asks_only_for_the_captions_named_and_puts_them_in_place(models):
    lm, _ = models
    handler = CausalLMHandler(ModelSource(model=str(lm)), GenerationParams(max_new_tokens=6), Batching(max_batch_size=4))
    first = Captioner("first", handler, (get_prompt("writing"), get_prompt("summary")))
    second = Captioner("second", handler, (get_prompt("short"),))
    clip = make_clip("k0", ("rock", "guitar"))
    [fresh] = captioned_by([first, second], [clip])
    assert [(c.prompt_id, c.task) for c in fresh.captions] == [
        (get_prompt(t).id, t) for t in ("writing", "summary", "short")]
    # As committed after the first caption failed for now: the others there, the PCM not loaded.
    committed = dataclasses.replace(fresh, captions=fresh.captions[1:], samples=None)
    [redone] = captioned_by([first, second], [Redo(committed, frozenset({"first/lpmc-writing@1"}))])
    assert redone.captions == fresh.captions  # the same text, asked once more, in its place
