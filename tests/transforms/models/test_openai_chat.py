"""The OpenAI-compatible HTTP backend against real servers on 127.0.0.1: `transformers serve` with
the tiny LM, our fault-injecting server in front of it, and a small audio chat server with the
tiny Whisper behind it. Failures are retried, then rejected with reasons; no clip is lost."""

from __future__ import annotations

import base64
import io
import json

import pytest
import soundfile as sf
from caption_helpers import make_clip, run_stage
from openai_servers import FAULTS, FaultServer, always, completion, fail_first, free_port, transformers_serve
from tiny_models import build_causal_lm, build_whisper

from tunescribe.transforms.captions.model_captions import Captioner
from tunescribe.transforms.captions.prompts import get_prompt
from tunescribe.transforms.models.audio_seq2seq import AudioSeq2SeqHandler
from tunescribe.transforms.models.base import Batching, ModelSource
from tunescribe.transforms.models.generation import AudioRequest, GenerationParams
from tunescribe.transforms.models.openai_chat import Endpoint, OpenAIChatHandler

REASONS = {"429": "endpoint_rate_limited", "500": "endpoint_server_error", "503": "endpoint_server_error",
           "timeout": "endpoint_timeout", "empty": "endpoint_empty_reply", "malformed": "endpoint_malformed_reply",
           "no_choices": "endpoint_malformed_reply", "400": "endpoint_client_error"}


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("models") / "tiny-lm")


@pytest.fixture(scope="module")
def served(lm, tmp_path_factory):
    """`transformers serve` with the tiny LM: (base URL, model name)."""
    with transformers_serve(str(lm), str(tmp_path_factory.mktemp("logs") / "serve.log")) as url:
        yield url, str(lm)


TIMEOUT_S = 4.0
STALL_S = 60.0


def http_captioner(base_url, model="m", tasks=("writing", "summary"), batch=32, **endpoint):
    # The deadline is far past any answer's time on a busy machine: only a "timeout" fault, which
    # stalls for STALL_S (or until its server stops), reaches it.
    settings = {"max_retries": 2, "timeout_s": TIMEOUT_S, "backoff_s": 0.01, "max_backoff_s": 0.05, **endpoint}
    handler = OpenAIChatHandler(Endpoint(base_url=base_url, model=model, **settings),
                                GenerationParams(max_new_tokens=8, temperature=0.7, seed=1),
                                Batching(min_batch_size=batch, max_batch_size=batch))
    return Captioner("api", handler, tuple(get_prompt(t) for t in tasks), seed=1)


CLIPS = [make_clip("k0", ("rock", "guitar")), make_clip("k1", ("jazz",)), make_clip("k2", ("ambient", "synth"))]


def test_http_backend_against_transformers_serve(served):
    url, model = served
    clips, rejects = run_stage(http_captioner(url, model, timeout_s=30), CLIPS)
    assert sorted(c.key for c in clips) == ["k0", "k1", "k2"]
    captions = [cap for c in clips for cap in c.captions]
    # Nothing lost: every (clip, task) is a caption or a reject (a random model may answer nothing).
    assert len(captions) + len(rejects) == 6 and len(captions) >= 4
    assert {r.reason for r in rejects} <= {"endpoint_empty_reply", "empty_caption"}
    for cap in captions:
        assert (cap.backend, cap.model_id) == ("openai", model)
        assert cap.model_revision.startswith(model)  # the model name the server reports
        assert cap.prompt_tokens > 10 and 1 <= cap.completion_tokens <= 8
        assert cap.prompt_id in ("lpmc-writing", "lpmc-summary") and cap.seed is not None


def test_transient_faults_are_retried_through_a_proxy_to_the_real_server(served):
    url, model = served
    faults = ["429", "500", "timeout", "empty", "malformed", "no_choices"]
    with FaultServer(upstream=url, plan=fail_first(faults), stall_s=STALL_S) as proxy:
        captioner = http_captioner(proxy.base_url, model, tasks=("writing",), max_retries=6)
        clips, rejects = run_stage(captioner, CLIPS[:2])
        log = list(proxy.log)
    # Each request met every fault once, in order, then reached the real server.
    by_request: dict = {}
    for key, attempt, fault in log:
        by_request.setdefault(key, []).append(fault)
    assert len(by_request) == 2 and all(seen == faults + [None] for seen in by_request.values())
    assert sorted(c.key for c in clips) == ["k0", "k1"]
    api = [c for clip in clips for c in clip.captions]
    assert len(api) + len(rejects) == 2 and api
    assert all(c.model_revision.startswith(model) and c.completion_tokens >= 1 for c in api)


@pytest.mark.parametrize("fault", FAULTS)
def test_persistent_fault_ends_in_rejects_with_reason(fault):
    with FaultServer(plan=always(fault), stall_s=STALL_S) as server:
        clips, rejects = run_stage(http_captioner(server.base_url), CLIPS[:2])
        attempts = list(server.attempts.values())
    assert sorted(c.key for c in clips) == ["k0", "k1"] and all(c.captions == () for c in clips)
    assert len(rejects) == 4 and {r.reason for r in rejects} == {REASONS[fault]}
    assert {r.stage for r in rejects} == {"captions"}
    retried = fault != "400"  # a client error is not retried
    assert attempts == [3 if retried else 1] * 4
    assert all(f"after {3 if retried else 1} attempt(s)" in r.detail for r in rejects)
    if fault in ("malformed", "no_choices", "empty"):
        assert all("raw reply" in r.detail for r in rejects)


def test_unreachable_endpoint_rejects_and_the_run_ends():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    clips, rejects = run_stage(http_captioner(url), CLIPS[:1])
    assert [c.key for c in clips] == ["k0"]
    assert [r.reason for r in rejects] == ["endpoint_unreachable"] * 2


def test_request_budget_caps_requests_and_rejects_the_rest():
    with FaultServer() as server:
        clips, rejects = run_stage(http_captioner(server.base_url, max_requests=4), CLIPS)
        sent = sum(server.attempts.values())
    assert sent == 4
    assert sum(len(c.captions) for c in clips) == 4 and len(clips) == 3
    assert [r.reason for r in rejects] == ["request_budget_exhausted"] * 2


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_bounded(concurrency):
    clips = [make_clip(f"k{i}", ("rock",)) for i in range(6)]
    with FaultServer(delay_s=0.15) as server:
        out, rejects = run_stage(http_captioner(server.base_url, concurrency=concurrency, timeout_s=5), clips)
        peak = server.max_in_flight
    assert not rejects and sum(len(c.captions) for c in out) == 12
    assert peak == concurrency


def test_audio_chat_endpoint_gets_resampled_wav_and_instruction(tmp_path):
    whisper = build_whisper(tmp_path / "tiny-whisper")
    handler = AudioSeq2SeqHandler(ModelSource(model=str(whisper)), GenerationParams(max_new_tokens=5))
    model = handler.load_model()
    received = []

    def answer(body):  # a chat server with the real (tiny) Whisper behind it
        parts = body["messages"][0]["content"]
        text = next(p["text"] for p in parts if p["type"] == "text")
        audio = next(p["input_audio"] for p in parts if p["type"] == "input_audio")
        pcm, rate = sf.read(io.BytesIO(base64.b64decode(audio["data"])), dtype="float32")
        received.append((text, rate, len(pcm), audio["format"]))
        gen = handler.run_inference([AudioRequest(pcm, rate)], model)[0]
        return completion(gen.text, body, prompt_tokens=len(pcm) // 640)

    with FaultServer(upstream=answer, plan=fail_first(["503"])) as server:
        endpoint = Endpoint(base_url=server.base_url, model="audio-model", max_retries=2, backoff_s=0.01, timeout_s=30)
        audio_handler = OpenAIChatHandler(endpoint, GenerationParams(max_new_tokens=5), Batching(max_batch_size=10),
                                          audio_sample_rate=16000)
        clips = [make_clip("k0", (), seconds=2.0, rate=44100), make_clip("k1", (), seconds=3.0, rate=48000)]
        out, rejects = run_stage(Captioner("audio-api", audio_handler, (get_prompt("audio_caption"),)), clips)
    assert not rejects
    assert sorted(received, key=lambda r: r[2]) == [
        (get_prompt("audio-describe").instruction, 16000, 32000, "wav"),
        (get_prompt("audio-describe").instruction, 16000, 48000, "wav")]
    for clip in out:
        (cap,) = clip.captions
        assert (cap.task, cap.prompt_id, cap.model_id) == ("audio_caption", "audio-describe", "audio-model")
        assert cap.model_revision == "audio-model-2026-01-01" and cap.prompt_tokens in (50, 75)
        assert cap.text == json.loads(json.dumps(cap.text)) and cap.text.strip()


def test_attribute_prediction_keeps_description_and_adds_predicted_tags():
    def answer(body):
        return completion("{'new_attribute': ['harmonica', 'rock'], 'description': 'A bluesy rock song.'}", body)

    with FaultServer(upstream=answer) as server:
        clips, rejects = run_stage(http_captioner(server.base_url, tasks=("attribute_prediction",)), CLIPS[:1])
    assert not rejects
    (clip,) = clips
    (cap,) = clip.captions
    assert (cap.text, cap.task, cap.prompt_id) == ("A bluesy rock song.", "attribute_prediction",
                                                   "lpmc-attribute_prediction")
    assert [(t.name, t.origin) for t in clip.tags] == [("rock", "manifest"), ("guitar", "manifest"),
                                                       ("harmonica", "llm:m")]


def test_unset_api_key_is_a_config_error_before_any_work(tmp_path, monkeypatch):
    from audio_files import write_audio

    from tunescribe.pipelines.commands.build import run_build
    from tunescribe.pipelines.config import ConfigError, load_config

    monkeypatch.delenv("TUNESCRIBE_TEST_KEY", raising=False)
    write_audio(tmp_path / "a.wav", 2.0)
    (tmp_path / "m.jsonl").write_text('{"file": "a.wav", "tags": "rock"}\n')
    (tmp_path / "config.yaml").write_text("""
name: keys
output: out
inputs: [{type: manifest, path: m.jsonl, columns: {path: file, tags: tags}}]
captions:
  models: [{backend: openai, base_url: "http://127.0.0.1:9/v1", model: m, api_key_env: TUNESCRIBE_TEST_KEY}]
""")
    with pytest.raises(ConfigError, match="TUNESCRIBE_TEST_KEY is not set"):
        run_build(load_config(str(tmp_path / "config.yaml")), [])
    assert not (tmp_path / "out" / "stats.json").exists()
