"""The dry run: `tunescribe estimate` counts requests, tokens, audio and cost, and calls no model."""

from __future__ import annotations

import json
import math
import pathlib

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from audio_files import write_audio
from caption_helpers import make_clip
from openai_servers import FaultServer
from tiny_models import build_causal_lm
from transformers import AutoTokenizer

from tunescribe.pipelines.cli import main
from tunescribe.pipelines.commands import EXIT_OVER_BUDGET
from tunescribe.transforms.captions.estimate import CostModel, EstimateCaptions
from tunescribe.transforms.captions.model_captions import Captioner
from tunescribe.transforms.captions.prompts import get_prompt
from tunescribe.transforms.models.base import ModelSource
from tunescribe.transforms.models.causal_lm import CausalLMHandler
from tunescribe.transforms.models.openai_chat import Endpoint, OpenAIChatHandler


def test_estimate_counts_exact_tokens_with_a_tokenizer_and_approximates_without(tmp_path):
    lm = build_causal_lm(tmp_path / "tiny-lm")
    tasks = (get_prompt("writing"), get_prompt("key_facts"))
    local = Captioner("lm", CausalLMHandler(ModelSource(model=str(lm))), tasks)
    api = Captioner("api", OpenAIChatHandler(Endpoint(base_url="http://127.0.0.1:9/v1", model="gpt-x", max_requests=5)), tasks)
    audio = Captioner("ears", OpenAIChatHandler(Endpoint(base_url="http://127.0.0.1:9/v1", model="audio-x")),
                      (get_prompt("audio_caption"),))
    costs = [CostModel(20, ModelSource(model=str(lm))), CostModel(50, None, 1.0, 2.0, max_requests=5), CostModel(30)]
    clips = [make_clip("k0", ("rock", "electric guitar")), make_clip("k1", ("jazz",), seconds=3.0),
             make_clip("k2", ())]
    path = tmp_path / "estimate.json"
    with beam.Pipeline(options=PipelineOptions([])) as p:
        p | beam.Create(clips) | EstimateCaptions([local, api, audio], costs, str(path))
    est = json.loads(path.read_text())

    tok = AutoTokenizer.from_pretrained(str(lm))
    phrases = [["rock", "electric guitar"], ["jazz"]]
    chats = [[{"role": r, "content": c} for r, c in p.render(ph)] for p in tasks for ph in phrases]
    exact = sum(len(tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True)["input_ids"]) for c in chats)
    approx = sum(math.ceil(len(c[0]["content"]) / 4) for c in chats)

    lm_e, api_e, audio_e = est["captioners"]
    assert (lm_e["requests"], lm_e["prompt_tokens"], lm_e["token_counts"]) == (4, exact, "exact")
    assert lm_e["max_output_tokens"] == 4 * 20 and lm_e["clips_without_inputs"] == 1
    assert [p["requests"] for p in lm_e["prompts"]] == [2, 2]
    assert (api_e["prompt_tokens"], api_e["token_counts"], api_e["max_output_tokens"]) == (approx, "approximate", 200)
    assert api_e["max_cost"] == round(approx * 1.0 / 1e6 + 200 * 2.0 / 1e6, 6)
    assert api_e["within_budget"] is True and api_e["max_requests"] == 5
    assert (audio_e["requests"], audio_e["prompts"][0]["audio_s"], audio_e["clips_without_inputs"]) == (3, 7.0, 0)
    assert est["totals"]["requests"] == 4 + 4 + 3


def test_estimate_command_runs_the_build_prefix_and_calls_no_model(tmp_path, capsys):
    build_causal_lm(tmp_path / "tiny-lm")  # the config names it ./tiny-lm
    write_audio(tmp_path / "a.wav", 4.0)
    write_audio(tmp_path / "b.wav", 9.0, freq=300)
    (tmp_path / "m.jsonl").write_text('{"file": "a.wav", "tags": "rock"}\n{"file": "b.wav", "tags": "jazz, piano"}\n')
    with FaultServer() as server:
        (tmp_path / "config.yaml").write_text(f"""
name: est
output: out
inputs: [{{type: manifest, path: m.jsonl, columns: {{path: file, tags: tags}}}}]
segment: {{window_s: 5.0}}
captions:
  models:
    - {{backend: transformers, model: ./tiny-lm, tasks: [writing, summary], generation: {{max_new_tokens: 40}}}}
    - backend: openai
      name: api
      base_url: {server.base_url}
      model: gpt-x
      api_key_env: TUNESCRIBE_TEST_UNSET_KEY
      tasks: [writing]
      max_requests: 2
      tokenizer: ./tiny-lm
      price: {{input_per_million: 0.5, output_per_million: 1.5}}
    - {{backend: openai-audio, base_url: {server.base_url}, model: audio-x}}
""")
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "notes.txt").write_text("the output folder of an earlier build")
        code = main(["-q", "estimate", str(tmp_path / "config.yaml"), "--json", str(tmp_path / "est.json")])
        calls = len(server.log)
    printed = capsys.readouterr().out
    est = json.loads((tmp_path / "est.json").read_text())
    assert calls == 0  # nothing was sent, and the unset API key did not matter
    # Read-only: nothing of the build's first stages (audio store, ledger) lands in the output.
    assert [p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*")] == [pathlib.Path("notes.txt")]
    assert code == EXIT_OVER_BUDGET  # 3 clips need more than the api's budget of 2 requests
    lm_e, api_e, audio_e = est["captioners"]
    assert lm_e["captioner"] == "transformers-0" and lm_e["model"] == "tiny-lm"
    assert lm_e["requests"] == 2 * (3 - lm_e["clips_without_inputs"]) >= 4  # a: 1 clip, b: 2 clips
    assert api_e["token_counts"] == "exact" and api_e["within_budget"] is False
    assert api_e["max_cost"] > 0 and est["totals"]["max_cost"] == api_e["max_cost"]
    assert audio_e["requests"] == 3 and audio_e["prompts"][0]["audio_s"] == 13.0
    assert "OVER the budget of 2 requests" in printed and "no model was called" in printed
