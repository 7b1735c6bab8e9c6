"""Audio tagging: clips -> RunInference(an audio classifier) -> clips with scored tags.

`AudioClassificationHandler` loads any Hugging Face audio-classification model (AST, wav2vec2,
HuBERT, BEATs-style... anything `AutoModelForAudioClassification` loads) from a hub id or a
local folder, once per worker, and turns a batch of clips into (label, score) lists: each clip's
mono mix resampled to the feature extractor's rate, one forward pass per batch, sigmoid scores
for multi-label models (AudioSet, MagnaTagATune taggers) and softmax for single-label ones.

`TagAudio` runs it through Beam's RunInference and merges the predicted tags into the clip's
tags: every tag keeps its origin (`manifest`, or `model@revision`) and score, so a manifest's
"piano" and a model's "piano" 0.91 sit side by side. A batch whose inference fails sends its
clips to the rejects table (stage "tagging", reason "inference_failed"); nothing is dropped.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import Any, Iterable, Optional, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import PredictionResult

from tunescribe.schemas import Tag
from tunescribe.transforms.attributes.extract import mono_at
from tunescribe.transforms.attributes.settings import TaggerSettings
from tunescribe.transforms.ingest.vocabulary import categorise
from tunescribe.transforms.models.base import TunescribeModelHandler
from tunescribe.transforms.stage import RunModel, reject_of

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedClassifier:
    model: Any
    features: Any  # the feature extractor
    device: str
    labels: list[str]
    multi_label: bool

    @property
    def sample_rate(self) -> int:
        return int(self.features.sampling_rate)


class AudioClassificationHandler(TunescribeModelHandler[Any, list, LoadedClassifier]):
    """Examples are anything with `samples` (channels, n) float32 and `sample_rate` (e.g. a Clip);
    each prediction is a list of (label, score), best first."""

    source: TaggerSettings  # the base's `source`: the model, and which of its labels become tags

    def load_model(self) -> LoadedClassifier:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        features = AutoFeatureExtractor.from_pretrained(self.source.pretrained, **self.source.from_pretrained_kwargs())
        model, device = self.load_pretrained(AutoModelForAudioClassification)
        config = model.config
        labels = [config.id2label[i] for i in range(config.num_labels)]
        multi = (self.source.activation == "sigmoid" or self.source.activation == "auto"
                 and config.problem_type == "multi_label_classification")
        log.info("loaded tagger %s on %s (%d labels, %s)", self.source.pretrained, device, len(labels),
                 "sigmoid" if multi else "softmax")
        return LoadedClassifier(model, features, device, labels, multi)

    def run_inference(self, batch: Sequence[Any], model: LoadedClassifier,
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        import torch

        rate = model.sample_rate
        audio = [mono_at(example, rate, quality="HQ") for example in batch]
        inputs = model.features(audio, sampling_rate=rate, return_tensors="pt",
                                **({"padding": True} if _pads(model.features) else {}))
        dtype = next(model.model.parameters()).dtype
        inputs = {k: (v.to(model.device, dtype) if v.is_floating_point() else v.to(model.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            logits = model.model(**inputs).logits.float()
        scores = torch.sigmoid(logits) if model.multi_label else torch.softmax(logits, dim=-1)
        scores = scores.cpu().numpy()
        model_id = "@".join(x for x in self.model_identity() if x)
        for example, row in zip(batch, scores):
            order = np.argsort(-row, kind="stable")[: self.source.top_k]
            tags = [(model.labels[i], float(row[i])) for i in order if row[i] >= self.source.threshold]
            yield PredictionResult(example, tags, model_id)


def _pads(features) -> bool:
    """Sequence feature extractors (wav2vec2, HuBERT) leave padding off by default and need it
    for a batch of clips of different lengths; fixed-window ones (AST, Whisper) pad themselves."""
    parameter = inspect.signature(features.__call__).parameters.get("padding")
    return parameter is not None and parameter.default in (False, None)


def merge_tags(existing: tuple[Tag, ...], predicted: Iterable[tuple[str, float]], origin: str) -> tuple[Tag, ...]:
    """Input tags first, as they were; then the model's tags by score. A tag is one (name,
    origin): the same name from the manifest and from a model is kept twice, each with its origin."""
    seen = {(t.name, t.origin) for t in existing}
    added = []
    for label, score in sorted(predicted, key=lambda p: -p[1]):
        name, category = categorise(label)  # a model's class label onto the shared vocabulary
        if name and (name, origin) not in seen:
            seen.add((name, origin))
            added.append(Tag(name=name, category=category, origin=origin, score=round(score, 6)))
    return tuple(existing) + tuple(added)


def _attach(result: PredictionResult):
    clip = result.example
    return dataclasses.replace(clip, tags=merge_tags(clip.tags, result.inference, result.model_id))


class TagAudio(beam.PTransform):
    """clips -> (clips with the model's tags merged in, rejects)."""

    attach = staticmethod(_attach)  # (PredictionResult) -> clip with tags; another tagger reads its own scores

    def __init__(self, handler: AudioClassificationHandler):
        super().__init__()
        self.handler = handler

    def expand(self, clips):
        predicted, failed = clips | "Model" >> RunModel(self.handler, "tagging")
        tagged = predicted | "MergeTags" >> beam.Map(self.attach)
        rejects = failed | "ToReject" >> beam.MapTuple(lambda clip, rejected: reject_of("tagging", clip, rejected))
        return tagged, rejects
