"""A CLAP-style dual encoder (audio and text into one space) behind the model-handler interface.

Example: (mono float32 audio at EXAMPLE_RATE, [texts]); prediction: the cosine similarity of
the audio with each text. Audio is resampled to the processor's rate if a checkpoint uses another. Any checkpoint `transformers.ClapModel` loads works: a
hub id (e.g. laion/clap-htsat-unfused) or a local folder with its ClapProcessor files. Loads in
`load_model`, on the worker.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from tunescribe.transforms.models.base import TunescribeModelHandler
from tunescribe.transforms.models.generation import resample

EXAMPLE_RATE = 48000  # every released CLAP checkpoint (and ClapFeatureExtractor's default) uses it

log = logging.getLogger(__name__)


@dataclasses.dataclass  # a class, not a tuple: RunInference's Shared keeps a weak reference to it
class LoadedClap:
    model: Any
    processor: Any
    device: str

    @property
    def sample_rate(self) -> int:
        return int(self.processor.feature_extractor.sampling_rate)


def centre(audio: np.ndarray, n: int) -> np.ndarray:
    """The middle `n` samples of longer audio: the feature extractor would crop at random
    ("rand_trunc") or mix random crops ("fusion"), and the same clip must always score the same."""
    if len(audio) <= n:
        return audio
    start = (len(audio) - n) // 2
    return audio[start:start + n]


class ClapScorer(TunescribeModelHandler):
    def load_model(self) -> LoadedClap:
        from transformers import ClapModel, ClapProcessor

        model, device = self.load_pretrained(ClapModel)
        processor = ClapProcessor.from_pretrained(self.source.pretrained, **self.source.from_pretrained_kwargs())
        log.info("loaded %s on %s (%d Hz)", self.source.pretrained, device, processor.feature_extractor.sampling_rate)
        return LoadedClap(model, processor, device)

    def run_inference(self, batch: Sequence[tuple[np.ndarray, list[str]]], model: LoadedClap,
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[np.ndarray]:
        import torch

        net, extractor, tokenizer = model.model, model.processor.feature_extractor, model.processor.tokenizer
        # RoBERTa positions start after the padding index: 2 fewer tokens than position embeddings.
        max_tokens = min(tokenizer.model_max_length, net.config.text_config.max_position_embeddings - 2)
        out = []
        # One forward pass per clip (its audio, and its own texts padded among themselves), not one
        # per batch: Beam sizes batches by timing, and a score must not depend on which clips shared
        # its batch (padding and kernel choice change the last bits, and a stored score decides).
        with torch.no_grad():
            for audio, texts in batch:
                clip = centre(resample(audio, EXAMPLE_RATE, model.sample_rate), extractor.nb_max_samples)
                audio_in = extractor([clip], sampling_rate=model.sample_rate, return_tensors="pt")
                text_in = tokenizer(list(texts), padding=True, truncation=True, max_length=max_tokens,
                                    return_tensors="pt")
                a = net.get_audio_features(**{k: v.to(model.device) for k, v in audio_in.items()})
                t = net.get_text_features(**{k: v.to(model.device) for k, v in text_in.items()})
                a = torch.nn.functional.normalize(getattr(a, "pooler_output", a).float(), dim=-1)
                t = torch.nn.functional.normalize(getattr(t, "pooler_output", t).float(), dim=-1)
                out.append((a @ t.T)[0].cpu().numpy())
        return out
