"""Dry run of the model captions: what they would ask, and cost, without calling a model.

Builds exactly the requests `ModelCaptions` would send (same prompts, same clip inputs) and
counts, per captioner and prompt: requests, prompt tokens, the output-token ceiling
(requests x max_new_tokens) and seconds of audio. Prompt tokens are exact when a tokenizer is
at hand (a local transformers model, or `tokenizer` in an endpoint's config: the chat template
is applied as the server would) and otherwise estimated at 4 characters a token (marked
`approximate`). With a price, the cost ceiling follows; with a request budget, whether the run
fits in it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Optional

import apache_beam as beam

from tunescribe.transforms.captions.model_captions import Captioner, build_job
from tunescribe.transforms.models.base import ModelSource
from tunescribe.transforms.models.generation import AudioRequest
from tunescribe.transforms.sinks.files import write_bytes_atomically
from tunescribe.transforms.stage import Rejected

CHARS_PER_TOKEN = 4


@dataclasses.dataclass(frozen=True)
class CostModel:
    """What the estimate needs to know of a captioner beyond its requests."""

    max_new_tokens: int
    tokenizer: Optional[ModelSource] = None  # exact prompt-token counts
    price_in_per_million: Optional[float] = None
    price_out_per_million: Optional[float] = None
    max_requests: Optional[int] = None


class _Count(beam.DoFn):
    """Clip -> ((captioner, prompt ref), [requests, prompt_tokens, audio_s, no_inputs])."""

    def __init__(self, captioner: Captioner, cost: CostModel):
        self.captioner, self.cost = captioner, cost

    def setup(self):
        self.tokenizer = None
        if self.cost.tokenizer is not None and not self.captioner.audio:
            from transformers import AutoTokenizer

            src = self.cost.tokenizer
            self.tokenizer = AutoTokenizer.from_pretrained(src.pretrained, **src.from_pretrained_kwargs())

    def tokens(self, request) -> int:
        if self.tokenizer is not None:
            ids = self.tokenizer.apply_chat_template(request.chat(), add_generation_prompt=True, tokenize=True)
            return len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        return math.ceil(request.text_size() / CHARS_PER_TOKEN)

    def process(self, clip):
        name = self.captioner.name
        try:
            job = build_job(clip, self.captioner)
        except Rejected:
            job = None
        if job is None:
            yield (name, "-"), [0, 0, 0.0, 1]
            return
        for prompt, request in zip(job.prompts, job.requests):
            if isinstance(request, AudioRequest):
                yield (name, prompt.ref), [1, 0, request.duration_s, 0]
            else:
                yield (name, prompt.ref), [1, self.tokens(request), 0.0, 0]


def _sum(rows):
    return [sum(col) for col in zip(*rows)] if rows else [0, 0, 0.0, 0]


def assemble(counts: list, captioners: list[Captioner], costs: list[CostModel]) -> dict:
    """The estimate document from the summed counts."""
    by_key = {tuple(k): v for k, v in counts}
    out, totals = [], {"requests": 0, "prompt_tokens": 0, "max_output_tokens": 0, "max_cost": 0.0}
    for c, cost in zip(captioners, costs):
        model_id, revision = c.handler.model_identity()
        prompts = []
        for p in c.prompts:
            n, tokens, audio_s, _ = by_key.get((c.name, p.ref), [0, 0, 0.0, 0])
            prompts.append({"prompt": p.ref, "task": p.task, "requests": n, "prompt_tokens": tokens,
                            "max_output_tokens": n * cost.max_new_tokens, "audio_s": round(audio_s, 3)})
        entry = {
            "captioner": c.name, "backend": getattr(c.handler, "backend", type(c.handler).__name__),
            "model": model_id, "revision": revision, "prompts": prompts,
            "clips_without_inputs": by_key.get((c.name, "-"), [0, 0, 0.0, 0])[3],
            "token_counts": "n/a" if c.audio else ("exact" if cost.tokenizer else "approximate"),
            "requests": sum(p["requests"] for p in prompts),
            "prompt_tokens": sum(p["prompt_tokens"] for p in prompts),
            "max_output_tokens": sum(p["max_output_tokens"] for p in prompts),
        }
        if cost.price_in_per_million is not None and cost.price_out_per_million is not None:
            entry["max_cost"] = round(entry["prompt_tokens"] * cost.price_in_per_million / 1e6
                                      + entry["max_output_tokens"] * cost.price_out_per_million / 1e6, 6)
            totals["max_cost"] += entry["max_cost"]
        if cost.max_requests is not None:
            entry["max_requests"] = cost.max_requests
            entry["within_budget"] = entry["requests"] <= cost.max_requests
        for k in ("requests", "prompt_tokens", "max_output_tokens"):
            totals[k] += entry[k]
        out.append(entry)
    totals["max_cost"] = round(totals["max_cost"], 6)
    return {"schema": "tunescribe.estimate/1", "captioners": out, "totals": totals}


class EstimateCaptions(beam.PTransform):
    """clips -> one estimate dict, also written as JSON to `path`."""

    def __init__(self, captioners: list[Captioner], costs: list[CostModel], path: str):
        super().__init__()
        self.captioners, self.costs, self.path = captioners, costs, path

    def expand(self, clips):
        counts = [clips | f"Count{i}" >> beam.ParDo(_Count(c, cost))
                  for i, (c, cost) in enumerate(zip(self.captioners, self.costs))]
        path, captioners, costs = self.path, self.captioners, self.costs

        def write(estimate):
            write_bytes_atomically(path, (json.dumps(estimate, indent=2, sort_keys=True) + "\n").encode())
            return estimate

        return (
            (counts or [clips | "Nothing" >> beam.FlatMap(lambda _: [])])
            | "AllCounts" >> beam.Flatten()
            | "Sum" >> beam.CombinePerKey(_sum)
            | "Collect" >> beam.combiners.ToList()
            | "Assemble" >> beam.Map(assemble, captioners, costs)
            | "Write" >> beam.Map(write)
        )
