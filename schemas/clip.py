"""The clip record: one training example, its Arrow schema, and field docs.

A clip is a window of one source's audio with everything known about it. Stages pass `Clip`
objects along (`dataclasses.replace` to add to one); sinks turn them into Parquet rows
(`to_row`) and WebDataset samples. `samples` (the PCM) lives only inside the pipeline: the
persisted audio is `audio`, encoded in `audio_format`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyarrow as pa

from tunescribe.schemas.tags import TAG_TYPE, Tag

# Bump when a field is added, removed or changes meaning; readers check it.
CLIP_SCHEMA_VERSION = "1.0"


@dataclasses.dataclass(frozen=True)
class Caption:
    text: str
    task: str  # e.g. "template", "writing", "summary", "paraphrase", "attribute_prediction"
    backend: str  # e.g. "template", "transformers", "openai"
    prompt_id: str
    prompt_version: str
    model_id: Optional[str] = None
    model_revision: Optional[str] = None
    seed: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Attribute:
    """A measured property of the audio, e.g. tempo 92.3 bpm or key "F# minor"."""

    name: str
    value: Optional[str] = None  # categorical value ("F# minor")
    number: Optional[float] = None  # numeric value (92.3)
    confidence: Optional[float] = None
    extractor: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Provenance:
    input_uri: str  # manifest or folder the item was listed in
    source_uri: str  # the audio file or URL itself
    tool_version: str
    config_hash: str


# Audio stats measured per clip; the quality stage decides on them later (stats are stored,
# decisions are separate, so thresholds can change without recomputing).
STAT_FIELDS = {
    "duration_s": "clip length in seconds",
    "peak_dbfs": "sample peak in dB relative to full scale",
    "rms_dbfs": "RMS level in dBFS over the whole clip",
    "clipped_ratio": "share of samples at or above the clipping level",
    "silence_ratio": "share of frames whose RMS is below the silence threshold",
}

CAPTION_TYPE = pa.struct(
    [
        pa.field("text", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("prompt_version", pa.string(), nullable=False),
        pa.field("model_id", pa.string()),
        pa.field("model_revision", pa.string()),
        pa.field("seed", pa.int64()),
    ]
)
ATTRIBUTE_TYPE = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("number", pa.float64()),
        pa.field("confidence", pa.float64()),
        pa.field("extractor", pa.string()),
    ]
)
STATS_TYPE = pa.struct([pa.field(name, pa.float64()) for name in STAT_FIELDS])
PROVENANCE_TYPE = pa.struct(
    [pa.field(f.name, pa.string(), nullable=False) for f in dataclasses.fields(Provenance)]
)

_FIELDS = [
    ("key", pa.string(), False, "stable sample key: <source hash>_<clip index>; no dots or slashes"),
    ("source_id", pa.string(), False, "id of the source item in its input (manifest id or relative path)"),
    ("track_id", pa.string(), True, "track id from the input, if any"),
    ("artist_id", pa.string(), True, "artist id from the input, if any"),
    ("album_id", pa.string(), True, "album id from the input, if any"),
    ("clip_index", pa.int32(), False, "position of the clip within its source, from 0"),
    ("start_s", pa.float64(), False, "clip start within the source file, seconds"),
    ("end_s", pa.float64(), False, "clip end within the source file, seconds"),
    ("sample_rate", pa.int32(), False, "sample rate of the stored audio, Hz"),
    ("channels", pa.int32(), False, "channels of the stored audio"),
    ("duration_s", pa.float64(), False, "clip duration, seconds"),
    ("audio", pa.binary(), True, "encoded audio (only in the WebDataset shards, not in the table)"),
    ("audio_format", pa.string(), False, "codec/container of `audio`, e.g. flac"),
    ("tags", pa.list_(TAG_TYPE), False, "normalised tags with category, origin and score"),
    ("attributes", pa.list_(ATTRIBUTE_TYPE), False, "measured music attributes with confidences"),
    ("captions", pa.list_(CAPTION_TYPE), False, "captions with their task and provenance"),
    ("stats", STATS_TYPE, False, "audio quality stats: " + ", ".join(STAT_FIELDS)),
    ("split", pa.string(), False, "train / valid / test"),
    ("licence", pa.string(), True, "licence of the source audio, as given by the input"),
    ("provenance", PROVENANCE_TYPE, False, "where the clip came from and what made it"),
    ("schema_version", pa.string(), False, "CLIP_SCHEMA_VERSION of the writer"),
]

CLIP_FIELD_DOCS = {name: doc for name, _, _, doc in _FIELDS}


def _schema(fields) -> pa.Schema:
    return pa.schema(
        [pa.field(name, typ, nullable=nullable, metadata={"doc": doc}) for name, typ, nullable, doc in fields],
        metadata={"tunescribe.record": "clip", "tunescribe.schema_version": CLIP_SCHEMA_VERSION},
    )


CLIP_SCHEMA = _schema(_FIELDS)

# The clip table: every clip field but the audio bytes, plus where the sample sits in the shards.
CLIP_TABLE_SCHEMA = _schema(
    [f for f in _FIELDS if f[0] != "audio"]
    + [
        ("shard", pa.string(), False, "file name of the WebDataset shard holding the sample"),
        ("shard_index", pa.int32(), False, "position of the sample within its shard, from 0"),
        ("shard_offset", pa.int64(), False, "byte offset of the sample's first tar header in the shard"),
    ]
)


@dataclasses.dataclass(frozen=True, eq=False)
class Clip:
    key: str
    source_id: str
    clip_index: int
    start_s: float
    end_s: float
    sample_rate: int
    channels: int
    provenance: Provenance
    track_id: Optional[str] = None
    artist_id: Optional[str] = None
    album_id: Optional[str] = None
    licence: Optional[str] = None
    tags: tuple[Tag, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    captions: tuple[Caption, ...] = ()
    stats: dict = dataclasses.field(default_factory=dict)
    split: str = ""
    audio: Optional[bytes] = None
    audio_format: str = ""
    # PCM, float32 (channels, frames): pipeline-only, never persisted.
    samples: Optional[np.ndarray] = dataclasses.field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def input_uri(self) -> str:
        return self.provenance.input_uri

    def to_row(self) -> dict:
        """The clip as a dict matching CLIP_SCHEMA (with `audio`) — JSON-safe but for `audio`."""
        row = {}
        for name, *_ in _FIELDS:
            if name == "duration_s":
                row[name] = self.duration_s
            elif name == "schema_version":
                row[name] = CLIP_SCHEMA_VERSION
            elif name == "stats":
                row[name] = {k: self.stats.get(k) for k in STAT_FIELDS}
            elif name in ("tags", "attributes", "captions"):
                row[name] = [dataclasses.asdict(x) for x in getattr(self, name)]
            elif name == "provenance":
                row[name] = dataclasses.asdict(self.provenance)
            else:
                row[name] = getattr(self, name)
        return row

    @staticmethod
    def from_row(row: dict) -> "Clip":
        """Inverse of `to_row` (extra table columns such as `shard` are ignored)."""
        kwargs = {f.name: row[f.name] for f in dataclasses.fields(Clip) if f.name in row}
        kwargs["tags"] = tuple(Tag(**t) for t in row["tags"])
        kwargs["attributes"] = tuple(Attribute(**a) for a in row["attributes"])
        kwargs["captions"] = tuple(Caption(**c) for c in row["captions"])
        kwargs["provenance"] = Provenance(**row["provenance"])
        kwargs["stats"] = {k: v for k, v in row["stats"].items() if v is not None}
        return Clip(**kwargs)
