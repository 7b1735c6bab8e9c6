"""The dropped-caption record: a caption the quality decisions took off a clip, with the rule and
what the model wrote, so a corpus keeps every caption it did not ship (`dropped_captions.parquet`)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pyarrow as pa

from tunescribe.schemas.record import schema_of

DROPPED_CAPTION_SCHEMA_VERSION = "1.0"

_FIELDS = [
    ("key", pa.string(), False, "clip key of the clip the caption belonged to"),
    ("source_id", pa.string(), False, "id of the source item"),
    ("clip_index", pa.int32(), False, "index of the clip within its source"),
    ("caption_index", pa.int32(), False, "index of the caption in the clip's captions before the decisions"),
    ("stage", pa.string(), False, "decision that dropped it: quality (a caption rule) or dedup (near-duplicate)"),
    ("reason", pa.string(), False, "the first rule it failed, a stable snake_case code, e.g. leaked_title"),
    ("detail", pa.string(), False, "every rule it failed, with the evidence quoted"),
    ("task", pa.string(), False, "caption task, e.g. writing, summary"),
    ("backend", pa.string(), False, "caption backend, e.g. template, transformers, openai"),
    ("model_id", pa.string(), True, "model that wrote it; null for template captions"),
    ("model_revision", pa.string(), True, "model revision (commit, or the GGUF file's sha256)"),
    ("prompt_id", pa.string(), False, "prompt id"),
    ("prompt_version", pa.string(), False, "prompt version"),
    ("seed", pa.int64(), True, "generation seed"),
    ("text", pa.string(), False, "the caption as the model wrote it (after parsing)"),
    ("input_uri", pa.string(), False, "manifest or folder the clip's item came from"),
    ("schema_version", pa.string(), False, "DROPPED_CAPTION_SCHEMA_VERSION of the writer"),
]

DROPPED_CAPTION_SCHEMA = schema_of(_FIELDS, "dropped_caption", DROPPED_CAPTION_SCHEMA_VERSION)


@dataclasses.dataclass(frozen=True)
class DroppedCaption:
    key: str
    source_id: str
    clip_index: int
    caption_index: int
    stage: str
    reason: str
    detail: str
    task: str
    backend: str
    prompt_id: str
    prompt_version: str
    text: str
    input_uri: str
    model_id: Optional[str] = None
    model_revision: Optional[str] = None
    seed: Optional[int] = None

    @property
    def model(self) -> str:
        """backend:model_id (backend alone for captions no model wrote), as stats.json counts them."""
        return f"{self.backend}:{self.model_id}" if self.model_id else self.backend

    def sort_key(self) -> tuple:
        return (self.key, self.caption_index, self.stage, self.reason, self.detail)

    def to_row(self) -> dict:
        return {**dataclasses.asdict(self), "schema_version": DROPPED_CAPTION_SCHEMA_VERSION}

    @staticmethod
    def from_row(row: dict) -> "DroppedCaption":
        return DroppedCaption(**{f.name: row[f.name] for f in dataclasses.fields(DroppedCaption)})
