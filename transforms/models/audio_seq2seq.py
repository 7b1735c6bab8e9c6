"""Hugging Face audio-to-text encoder-decoders (Whisper-style): clip audio -> caption text.

Loads `AutoModelForSpeechSeq2Seq` with its feature extractor and tokenizer from a hub id or a
local folder, once per worker process. Each request's mono PCM is resampled (soxr) to the
feature extractor's rate — the rate the model was trained at — and a RunInference batch is one
`generate` call. The feature extractor pads or cuts each clip to the model's window (30 s for
Whisper). Audio-LLMs that take a chat prompt (Qwen2-Audio and the like) are served instead by
`transformers serve` or vLLM and reached through the OpenAI chat backend with audio input.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional, Sequence

from tunescribe.transforms.models.base import Batching, ModelSource, TunescribeModelHandler
from tunescribe.transforms.models.generation import (
    AudioRequest,
    Generation,
    GenerationParams,
    resample,
    seeded_sampler,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedAudioSeq2Seq:
    model: Any
    features: Any  # feature extractor
    tokenizer: Any
    device: str

    @property
    def sample_rate(self) -> int:
        return int(self.features.sampling_rate)


class AudioSeq2SeqHandler(TunescribeModelHandler[AudioRequest, Generation, LoadedAudioSeq2Seq]):
    backend = "transformers-audio"

    def __init__(self, source: ModelSource, params: GenerationParams = GenerationParams(max_new_tokens=64),
                 batching: Batching = Batching(max_batch_size=120)):
        super().__init__(source, batching)  # max_batch_size: seconds of audio per batch
        self.params = params

    def load_model(self) -> LoadedAudioSeq2Seq:
        from transformers import AutoFeatureExtractor, AutoModelForSpeechSeq2Seq, AutoTokenizer

        kwargs = self.source.from_pretrained_kwargs()
        features = AutoFeatureExtractor.from_pretrained(self.source.pretrained, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(self.source.pretrained, **kwargs)
        model, device = self.load_pretrained(AutoModelForSpeechSeq2Seq)
        log.info("loaded %s on %s (%d Hz)", self.source.pretrained, device, features.sampling_rate)
        return LoadedAudioSeq2Seq(model, features, tokenizer, device)

    def run_inference(self, batch: Sequence[AudioRequest], model: LoadedAudioSeq2Seq,
                      inference_args: Optional[dict[str, Any]] = None) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList

        rate, p = model.sample_rate, self.params
        audio = [resample(r.samples, r.sample_rate, rate) for r in batch]
        feats = model.features(audio, sampling_rate=rate, return_tensors="pt", return_attention_mask=True)
        dtype = next(model.model.parameters()).dtype
        feats = {k: (v.to(model.device, dtype) if v.is_floating_point() else v.to(model.device))
                 for k, v in feats.items()}
        processors = LogitsProcessorList()
        if p.sampling:
            processors.append(seeded_sampler(p, [r.seed or 0 for r in batch], 0))
        with torch.inference_mode():
            ids = model.model.generate(**feats, max_new_tokens=p.max_new_tokens, do_sample=False, num_beams=1,
                                       logits_processor=processors)
        gen_config = model.model.generation_config
        eos, pad = gen_config.eos_token_id, gen_config.pad_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])  # generation configs may list several
        results = []
        for row in ids.tolist():
            n = sum(1 for t in row if t != pad)
            finish = "stop" if eos_ids.intersection(row) else "length"
            results.append(Generation(text=model.tokenizer.decode(row, skip_special_tokens=True),
                                      completion_tokens=n, finish_reason=finish))
        return results

    def get_num_bytes(self, batch: Sequence[AudioRequest]) -> int:
        return sum(r.samples.nbytes for r in batch)
