"""The reject record: an ingested item (or one of its clips) that did not reach the output, and why."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pyarrow as pa

from tunescribe.schemas.record import schema_of

REJECT_SCHEMA_VERSION = "1.1"  # 1.1: `part`, `transient`

_FIELDS = [
    ("source_id", pa.string(), False, "id of the source item (for unreadable manifest rows: manifest#row)"),
    ("key", pa.string(), True, "source key, or clip key when one clip was rejected; null if never known"),
    ("clip_index", pa.int32(), True, "index of the rejected clip; null when the whole item was rejected"),
    ("stage", pa.string(), False, "stage that rejected it, e.g. ingest, dedup, decode, quality"),
    ("reason", pa.string(), False, "stable snake_case reason code, e.g. missing_file, too_silent"),
    ("detail", pa.string(), False, "human-readable explanation"),
    ("input_uri", pa.string(), False, "manifest or folder the item came from"),
    ("part", pa.string(), True, "the part of a clip that failed while the clip went on, e.g. one caption: "
                                "CAPTIONER/PROMPT@VERSION; null when the whole item or clip was rejected"),
    ("transient", pa.bool_(), False, "a failure of the moment (network, endpoint down or rate-limited, a file "
                                     "not there yet): the next run with the same config tries it again"),
    ("schema_version", pa.string(), False, "REJECT_SCHEMA_VERSION of the writer"),
]

REJECT_SCHEMA = schema_of(_FIELDS, "reject", REJECT_SCHEMA_VERSION)


@dataclasses.dataclass(frozen=True)
class Reject:
    source_id: str
    stage: str
    reason: str
    detail: str
    input_uri: str
    key: Optional[str] = None
    clip_index: Optional[int] = None
    part: Optional[str] = None  # e.g. "local-lm/lp-writing@1": the one caption that failed
    transient: bool = False  # set where the failure is raised (Rejected.transient): retried by a rerun

    @property
    def is_whole_item(self) -> bool:
        return self.clip_index is None

    def sort_key(self) -> tuple:
        return (self.source_id, self.key or "", -1 if self.clip_index is None else self.clip_index,
                self.stage, self.reason, self.detail, self.input_uri)

    def to_row(self) -> dict:
        return {**dataclasses.asdict(self), "schema_version": REJECT_SCHEMA_VERSION}

    @staticmethod
    def from_row(row: dict) -> "Reject":
        return Reject(**{f.name: row[f.name] for f in dataclasses.fields(Reject)})
