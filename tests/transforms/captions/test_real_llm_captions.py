"""Real LLM captions in real builds: SmolLM2-135M-Instruct (the GGUF from `tunescribe models fetch
smollm2`) through the local transformers backend and, served by `transformers serve`, through the
OpenAI-compatible backend. Every caption it writes carries its full provenance."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from openai_servers import transformers_serve

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.schemas.layout import WORK_DIR
from tunescribe.transforms.captions.prompts import get_prompt
from tunescribe.transforms.models.generation import derive_seed
from tunescribe.transforms.models.weights import file_sha256
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates

TASKS = ["writing", "summary"]
SEED = 5
# Two rendered pieces with their instrument as the tag: a clip each (the window covers the file).
PIECES = {"bach_bwv66_6.ogg", "joplin_maple_leaf_rag.ogg"}


def write_config(root, audio_dev, model_yaml: str):
    rows = [json.loads(line) for line in (audio_dev / "manifest.jsonl").read_text().splitlines() if line.strip()]
    (root / "pieces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["file"] in PIECES))
    config = root / "config.yaml"
    config.write_text(f"""
name: smollm2
output: out
inputs:
  - type: manifest
    path: pieces.jsonl
    audio_root: {audio_dev}
    columns: {{path: file, tags: [instrument], licence: license}}
segment: {{window_s: 30}}
captions:
  models:
    - {model_yaml}
      tasks: {json.dumps(TASKS)}
      generation: {{max_new_tokens: 24, seed: {SEED}}}
      batch_size: 4
""")
    return config


def model_captions(out, backend):
    """Every caption the model stage wrote (before the quality rules decide), per clip."""
    clips = read_candidates(str(out / WORK_DIR / CANDIDATES_FILE))
    assert len(clips) == len(PIECES)
    return [(clip, [c for c in clip.captions if c.backend == backend]) for clip in clips]


def check_provenance(out, backend, model_id, revision):
    for clip, captions in model_captions(out, backend):
        assert sorted(c.task for c in captions) == sorted(TASKS), clip.key  # each prompt answered
        for cap in captions:
            prompt = get_prompt(cap.task)
            assert (cap.model_id, cap.model_revision) == (model_id, revision)
            assert (cap.prompt_id, cap.prompt_version) == (prompt.id, prompt.version)
            assert cap.seed == derive_seed(SEED, clip.key, prompt.ref)
            assert cap.prompt_tokens > 20 and 1 <= cap.completion_tokens <= 24
            # Real English, not a random model's token soup: mostly dictionary-like words.
            words = re.findall(r"[A-Za-z]+", cap.text)
            assert len(words) >= 4 and sum(w.lower() in ENGLISH for w in words) >= 2, cap.text


ENGLISH = {"the", "a", "an", "is", "of", "and", "in", "with", "this", "song", "music", "piano", "piece", "it",
           "its", "that", "to", "for", "features", "sound", "melody", "played", "organ", "track", "by"}


def test_local_backend_captions_with_smollm2_gguf(smollm2_gguf, audio_dev, tmp_path):
    config = write_config(tmp_path, audio_dev, f"backend: transformers\n      model: {smollm2_gguf}")
    cfg = load_config(str(config))
    run_build(cfg, [])
    check_provenance(tmp_path / "out", "transformers", smollm2_gguf.name, file_sha256(str(smollm2_gguf)))


def test_openai_backend_against_transformers_serve_with_smollm2(smollm2_gguf, smollm2_hf, audio_dev, tmp_path):
    # The endpoint reports only a model name; the config states the GGUF it was converted from.
    revision = file_sha256(str(smollm2_gguf))
    with transformers_serve(str(smollm2_hf), str(tmp_path / "serve.log")) as url:
        config = write_config(tmp_path, audio_dev, f"backend: openai\n      base_url: {url}\n"
                                                   f"      model: {smollm2_hf}\n      revision: {revision}\n"
                                                   f"      timeout_s: 300")
        run_build(load_config(str(config)), [])
    check_provenance(tmp_path / "out", "openai", str(smollm2_hf), revision)


def test_missing_gguf_is_a_config_error_before_any_work(smollm2_gguf, audio_dev, tmp_path):
    config = write_config(tmp_path, audio_dev, "backend: transformers\n      model: ./models/smollm2.gguf")
    with pytest.raises(ConfigError, match=r"captions.models\[0\].model: no GGUF file at .*models/smollm2.gguf"):
        run_build(load_config(str(config)), [])
    config = write_config(tmp_path, audio_dev, f"backend: transformers\n      model: {smollm2_gguf.parent}\n"
                                               "      gguf_file: other.Q8_0.gguf")
    with pytest.raises(ConfigError, match=r"captions.models\[0\].gguf_file: no GGUF file other.Q8_0.gguf in "):
        run_build(load_config(str(config)), [])
    assert not (tmp_path / "out" / "stats.json").exists()


def test_gguf_named_as_file_or_as_folder_plus_file_is_the_same_model(smollm2_gguf):
    from tunescribe.transforms.models.base import ModelSource

    as_file = ModelSource(model=str(smollm2_gguf))
    as_pair = ModelSource(model=str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    assert as_file.checkpoint == as_pair.checkpoint == (str(smollm2_gguf.parent), smollm2_gguf.name)
    assert as_file.from_pretrained_kwargs() == as_pair.from_pretrained_kwargs()
    assert as_file.from_pretrained_kwargs()["gguf_file"] == smollm2_gguf.name
    assert as_file.identity() == (smollm2_gguf.name, file_sha256(str(smollm2_gguf)))


def test_example_configs_name_the_fetched_model(smollm2_gguf):
    from tunescribe.pipelines.config import load_config as load

    examples = pathlib.Path(__file__).resolve().parents[3] / "examples" / "smollm2"
    [local] = load(str(examples / "config.yaml")).captions.models
    assert local.identity()[0] == smollm2_gguf.name
    [served] = load(str(examples / "config-openai.yaml")).captions.models
    assert served.revision == file_sha256(str(smollm2_gguf))  # the GGUF the served folder came from
