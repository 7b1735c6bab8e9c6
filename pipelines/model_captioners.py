"""The configured caption models as runnable captioners: each `captions.models` section ->
(Captioner for ModelCaptions, CostModel for `tunescribe estimate`).

Kept apart from the config sections (config/caption_models.py) because building handlers imports Beam's
ML stack, which imports torch: reading or validating a config must stay fast."""

from __future__ import annotations

from tunescribe.pipelines.config.caption_models import OpenAIText, TransformersAudio, TransformersText
from tunescribe.transforms.captions.estimate import CostModel
from tunescribe.transforms.captions.model_captions import Captioner
from tunescribe.transforms.captions.prompts import get_prompt
from tunescribe.transforms.models.audio_seq2seq import AudioSeq2SeqHandler
from tunescribe.transforms.models.base import Batching, ModelSource
from tunescribe.transforms.models.causal_lm import CausalLMHandler
from tunescribe.transforms.models.openai_chat import OpenAIChatHandler


def fixed(size: int, hints: dict) -> Batching:
    """Full batches (a bundle's last one aside): Beam's adaptive sizing starts at one element,
    which leaves an endpoint's concurrency and a model's batch width unused, and makes the
    batch make-up depend on timing."""
    return Batching(min_batch_size=size, max_batch_size=size, resource_hints=hints)


def build_captioners(models: list, hints: dict | None = None) -> list[tuple[Captioner, CostModel]]:
    """Each configured model -> (Captioner for ModelCaptions, CostModel for the estimate);
    `hints`: the resource hints of a model on an accelerator (config `resources`)."""
    hints = hints or {}
    out = []
    for n, m in enumerate(models):
        name = m.name or f"{m.backend}-{n}"
        params = m.generation
        if isinstance(m, TransformersText):
            handler = CausalLMHandler(m, params, fixed(m.batch_size, hints))
            prompts, tokenizer, price = tuple(get_prompt(t) for t in m.tasks), m, None
        elif isinstance(m, OpenAIText):
            handler = OpenAIChatHandler(m, params, fixed(m.batch_size, hints))
            prompts, price = tuple(get_prompt(t) for t in m.tasks), m.price
            tokenizer = ModelSource(model=m.tokenizer) if m.tokenizer else None
        elif isinstance(m, TransformersAudio):
            handler = AudioSeq2SeqHandler(m, params, fixed(int(m.batch_audio_s), hints))
            prompts, tokenizer, price = (get_prompt(m.prompt),), None, None
        else:
            handler = OpenAIChatHandler(m, params, fixed(int(m.batch_audio_s), hints),
                                        audio_sample_rate=m.sample_rate)
            prompts, tokenizer, price = (get_prompt(m.prompt),), None, m.price
        cost = CostModel(params.max_new_tokens, tokenizer, price.input_per_million if price else None,
                         price.output_per_million if price else None, getattr(m, "max_requests", None))
        out.append((Captioner(name, handler, prompts, params.seed), cost))
    return out
