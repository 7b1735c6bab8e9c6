"""Helpers for the caption tests: small clips, running the caption stage alone, reading outputs."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from tunescribe.schemas import Clip, Provenance, Tag
from tunescribe.transforms.captions.model_captions import Captioner, ModelCaptions


def read_outputs(out):
    clips = [r for f in sorted((out / "clips").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    return clips, rejects


def make_clip(key: str, tags: tuple[str, ...], seconds: float = 2.0, rate: int = 16000) -> Clip:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    return Clip(key=key, source_id=key, clip_index=0, start_s=0.0, end_s=seconds, sample_rate=rate, channels=1,
                provenance=Provenance("in.jsonl", key, "0", "h"), tags=tuple(Tag(n) for n in tags), samples=pcm)


_SEEN: dict[str, list] = {}  # outputs of in-process pipelines (DoFns are pickled: no closures)


def _keep(element, name):
    _SEEN.setdefault(name, []).append(element)


def run_stage(captioner: Captioner, clips: list[Clip]):
    """Runs ModelCaptions alone on the DirectRunner; -> (clips, rejects)."""
    _SEEN.clear()
    with beam.Pipeline(options=PipelineOptions([])) as p:
        out, rejects = p | beam.Create(clips, reshuffle=False) | ModelCaptions(captioner)
        out | "KeepClips" >> beam.Map(_keep, "clips")
        rejects | "KeepRejects" >> beam.Map(_keep, "rejects")
    return _SEEN.get("clips", []), _SEEN.get("rejects", [])


