"""Local transformers causal LM: chat requests -> generations, batched with left padding.

The model and tokenizer load once per worker process (Beam's `Shared`, through RunInference),
from a hub id, a local folder or a GGUF file (de-quantised by transformers on load). Each RunInference batch is one `generate` call (cut into
chunks of the batching's max_batch_size), prompts rendered with the tokenizer's chat template and padded on
the left so every row's continuation starts at the same position. Sampling uses one seed per
request (see generation.seeded_sampler), so a caption does not depend on its batch.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional, Sequence

from tunescribe.transforms.models.base import Batching, ModelSource, TunescribeModelHandler
from tunescribe.transforms.models.generation import Generation, GenerationParams, TextRequest, seeded_sampler

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedCausalLM:
    model: Any
    tokenizer: Any
    device: str


class CausalLMHandler(TunescribeModelHandler[TextRequest, Generation, LoadedCausalLM]):
    backend = "transformers"

    def __init__(self, source: ModelSource, params: GenerationParams = GenerationParams(),
                 batching: Batching = Batching(max_batch_size=16)):
        super().__init__(source, batching)
        self.params = params

    def load_model(self) -> LoadedCausalLM:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.source.pretrained, **self.source.from_pretrained_kwargs())
        if tokenizer.chat_template is None:
            raise ValueError(f"tokenizer of {self.source.pretrained} has no chat template")
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:  # many causal LMs ship none; padding is masked out anyway
            tokenizer.pad_token = tokenizer.eos_token
        model, device = self.load_pretrained(AutoModelForCausalLM)
        log.info("loaded %s on %s", self.source.gguf_path or self.source.pretrained, device)
        return LoadedCausalLM(model, tokenizer, device)

    def run_inference(self, batch: Sequence[TextRequest], model: LoadedCausalLM,
                      inference_args: Optional[dict[str, Any]] = None) -> list[Generation]:
        out: list[Generation] = []
        size = self.batching.max_batch_size
        for lo in range(0, len(batch), size):
            out += self.generate(batch[lo:lo + size], model)
        return out

    def generate(self, requests: Sequence[TextRequest], lm: LoadedCausalLM) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        tok, p = lm.tokenizer, self.params
        texts = [tok.apply_chat_template(r.chat(), add_generation_prompt=True, tokenize=False) for r in requests]
        # The chat template already holds the special tokens it wants.
        enc = tok(texts, padding=True, return_tensors="pt", add_special_tokens=False).to(lm.device)
        prompt_len = enc["input_ids"].shape[1]
        eos = lm.model.generation_config.eos_token_id
        if eos is None:
            eos = tok.eos_token_id
        config = GenerationConfig(max_new_tokens=p.max_new_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=tok.pad_token_id, eos_token_id=eos)
        processors = LogitsProcessorList()
        if p.sampling:
            processors.append(seeded_sampler(p, [r.seed or 0 for r in requests], prompt_len))
        with torch.inference_mode():
            ids = lm.model.generate(**enc, generation_config=config, logits_processor=processors)
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        results = []
        for row, mask in zip(ids[:, prompt_len:].tolist(), enc["attention_mask"].sum(dim=1).tolist()):
            n = next((i + 1 for i, t in enumerate(row) if t in eos_ids), None)
            finish = "stop" if n is not None else "length"
            n = n if n is not None else len(row)
            text = tok.decode(row[:n], skip_special_tokens=True)
            results.append(Generation(text=text, prompt_tokens=int(mask), completion_tokens=n, finish_reason=finish))
        return results

    def get_num_bytes(self, batch: Sequence[TextRequest]) -> int:
        return sum(r.text_size() for r in batch)
