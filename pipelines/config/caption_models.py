"""Config of the model captioners (`captions.models` in the build config) and their construction.

Each entry is one backend and what it writes:

    captions:
      template: true                      # the offline template caption (no model)
      models:
        - backend: transformers           # local causal LM, hub id or local folder
          model: Qwen/Qwen2.5-1.5B-Instruct
          tasks: [writing, summary, paraphrase, attribute_prediction]
        - backend: transformers           # or a GGUF checkpoint: the .gguf file (or folder + gguf_file)
          model: ~/.cache/tunescribe/models/smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf
        - backend: openai                 # any OpenAI-compatible endpoint
          base_url: http://127.0.0.1:8000/v1
          model: my-model
          tasks: [short, key_facts]
          max_requests: 20000
        - backend: transformers-audio     # Whisper-style audio-to-text
          model: ./models/music-captioner
        - backend: openai-audio           # chat endpoint taking audio input
          base_url: https://api.example.com/v1
          model: audio-model
          api_key_env: AUDIO_API_KEY
"""

from __future__ import annotations

import os
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, Field

from tunescribe.pipelines.config.base import ConfigError, resolve_model_path
from tunescribe.transforms.captions.prompts import LP_MUSICCAPS_TASKS, AudioPrompt, PromptTemplate, get_prompt
from tunescribe.transforms.models.generation import Endpoint, GenerationParams
from tunescribe.transforms.models.settings import ModelSource
from tunescribe.transforms.settings import Settings


class Price(Settings):
    """For `tunescribe estimate`: the endpoint's price per million tokens."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


def _text_tasks(tasks: list[str]) -> list[str]:
    if len(set(tasks)) != len(tasks):
        raise ValueError("a task is listed twice")
    for name in tasks:
        if not isinstance(get_prompt(name), PromptTemplate):  # unknown: ValueError naming the known ones
            raise ValueError(f"{name!r} is an audio prompt; text backends take text tasks")
    return tasks


def _audio_prompt(name: str) -> str:
    if not isinstance(get_prompt(name), AudioPrompt):
        raise ValueError(f"{name!r} is a text prompt; audio backends take an audio prompt")
    return name


TextTasks = Annotated[list[str], Field(min_length=1), AfterValidator(_text_tasks)]


class _Local(ModelSource):
    """A captioner running its model in the worker (a relative `model` is relative to the config file)."""

    name: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    generation: GenerationParams = GenerationParams()


class _Remote(Endpoint):
    """A captioner calling an endpoint: the endpoint's own settings (generation.py) and these."""

    name: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    generation: GenerationParams = GenerationParams()
    price: Optional[Price] = None


class TransformersText(_Local):
    backend: Literal["transformers"]
    tasks: TextTasks = list(LP_MUSICCAPS_TASKS)
    batch_size: int = Field(16, ge=1)  # prompts per generate call


class OpenAIText(_Remote):
    backend: Literal["openai"]
    tasks: TextTasks = list(LP_MUSICCAPS_TASKS)
    batch_size: int = Field(32, ge=1)  # prompts per RunInference batch (sent `concurrency` at a time)
    tokenizer: Optional[str] = None  # hub id or local folder whose tokenizer counts prompt tokens for estimates


class TransformersAudio(_Local):
    backend: Literal["transformers-audio"]
    prompt: Annotated[str, AfterValidator(_audio_prompt)] = "audio-direct"
    batch_audio_s: float = Field(120.0, ge=1)  # seconds of audio per generate call


class OpenAIAudio(_Remote):
    backend: Literal["openai-audio"]
    prompt: Annotated[str, AfterValidator(_audio_prompt)] = "audio-describe"
    sample_rate: int = Field(16000, ge=8000, le=48000)  # rate of the WAV sent
    batch_audio_s: float = Field(300.0, ge=1)


CaptionModel = Annotated[Union[TransformersText, OpenAIText, TransformersAudio, OpenAIAudio],
                         Field(discriminator="backend")]


def _unique_names(models: list) -> list:
    names = [m.name for m in models if m.name]
    if len(set(names)) != len(names):
        raise ValueError("captioner names must be unique")
    return models


CaptionModels = Annotated[list[CaptionModel], AfterValidator(_unique_names)]


def resolve_model_paths(models: list, base: str) -> list:
    """Local models and tokenizers given relative to the config file -> absolute; hub ids stay."""
    out = []
    for m in models:
        if isinstance(m, _Local):
            m = m.model_copy(update={"model": resolve_model_path(m.model, base)})
        if isinstance(m, OpenAIText) and m.tokenizer:
            m = m.model_copy(update={"tokenizer": resolve_model_path(m.tokenizer, base)})
        out.append(m)
    return out


def _need_gguf_package(where: str) -> None:
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise ConfigError(f"{where}.model: a GGUF checkpoint needs the `gguf` package (pip install gguf)")


def check_caption_models(models: list, need_keys: bool = True) -> None:
    """What can be checked before any work: local folders exist, API keys are set (not needed
    for an estimate, which calls no endpoint)."""
    for n, m in enumerate(models):
        where = f"captions.models[{n}]"
        looks_local = os.path.isabs(m.model) or m.model.startswith(".")
        gguf_file = getattr(m, "gguf_file", None)
        if isinstance(m, _Local) and m.model.endswith(".gguf"):
            if gguf_file:
                raise ConfigError(f"{where}.gguf_file: model already names a GGUF file ({m.model})")
            if not os.path.isfile(m.model):
                raise ConfigError(f"{where}.model: no GGUF file at {m.model} "
                                  "(`tunescribe models fetch smollm2` prints the path of SmolLM2's)")
        elif isinstance(m, _Local) and looks_local and not os.path.isdir(m.model):
            raise ConfigError(f"{where}.model: no model folder at {m.model}")
        elif isinstance(m, _Local) and gguf_file and looks_local and not os.path.isfile(os.path.join(m.model, gguf_file)):
            raise ConfigError(f"{where}.gguf_file: no GGUF file {gguf_file} in {m.model}")
        if isinstance(m, _Local) and (m.model.endswith(".gguf") or gguf_file):
            _need_gguf_package(where)
        if need_keys and isinstance(m, _Remote) and m.api_key_env and not os.environ.get(m.api_key_env):
            raise ConfigError(f"{where}.api_key_env: environment variable {m.api_key_env} is not set")
