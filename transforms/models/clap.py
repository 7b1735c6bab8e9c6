"""A CLAP-style dual encoder (audio and text into one space) behind the model-handler interface.

Example: (mono float32 audio at the processor's sampling rate, [texts]); prediction: the cosine
similarity of the audio with each text. Any checkpoint `transformers.ClapModel` loads works: a
hub id (e.g. laion/clap-htsat-unfused) or a local folder. Loads in `load_model`, on the worker.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np

from tunescribe.transforms.models.base import TunescribeModelHandler


class ClapScorer(TunescribeModelHandler):
    def load_model(self):
        import torch
        from transformers import ClapModel, ClapProcessor

        kwargs = self.source.from_pretrained_kwargs()
        model = ClapModel.from_pretrained(self.source.model, **kwargs).eval()
        processor = ClapProcessor.from_pretrained(self.source.model, **kwargs)
        device = self.source.device if self.source.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return model.to(device), processor

    def sampling_rate(self, model) -> int:
        return int(model[1].feature_extractor.sampling_rate)

    def run_inference(self, batch: Sequence[tuple[np.ndarray, list[str]]], model,
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[np.ndarray]:
        import torch

        net, processor = model
        device = next(net.parameters()).device
        rate = self.sampling_rate(model)
        texts = [t for _, ts in batch for t in ts]
        with torch.no_grad():
            audio_in = processor.feature_extractor([a for a, _ in batch], sampling_rate=rate, return_tensors="pt")
            text_in = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
            a = net.get_audio_features(**{k: v.to(device) for k, v in audio_in.items()})
            t = net.get_text_features(**{k: v.to(device) for k, v in text_in.items()})
            a = getattr(a, "pooler_output", a)
            t = getattr(t, "pooler_output", t)
            a = torch.nn.functional.normalize(a.float(), dim=-1)
            t = torch.nn.functional.normalize(t.float(), dim=-1)
        out, start = [], 0
        for i, (_, ts) in enumerate(batch):
            out.append((a[i:i + 1] @ t[start:start + len(ts)].T)[0].cpu().numpy())
            start += len(ts)
        return out
