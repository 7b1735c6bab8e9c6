"""The clip record: one training example, its Arrow schema, and field docs.

A clip is a window of one source's audio with everything known about it. Stages pass `Clip`
objects along (`dataclasses.replace` to add to one); sinks turn them into Parquet rows
(`to_row`) and WebDataset samples. `samples` (the PCM) lives only inside the per-item steps that
need it: once encoded, a clip's audio is a file in the build's content-addressed audio store
(transforms/audio/store.py), and the record carries only its `audio_sha256` and `audio_size`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyarrow as pa

from tunescribe.schemas.record import schema_of
from tunescribe.schemas.tags import TAG_TYPE, Tag

# Bump when a field is added, removed or changes meaning; readers check it.
CLIP_SCHEMA_VERSION = "1.5"


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
    prompt_tokens: Optional[int] = None  # token usage as the model/endpoint counted it
    completion_tokens: Optional[int] = None
    # Text and consistency stats (CAPTION_STAT_FIELDS), computed once; the quality rules decide on them.
    stats: dict = dataclasses.field(default_factory=dict, hash=False)


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
    "true_peak_dbtp": "true peak (4x oversampled, ITU-R BS.1770-4) in dBTP",
    "loudness_lufs": "integrated loudness (ITU-R BS.1770-4, gated) in LUFS",
    "loudness_range_lu": "loudness range (EBU Tech 3342) in LU; 0 for clips of 3 s or less",
    "upper_freq_hz": "highest frequency within 80 dB of the long-term spectrum's peak (low: upsampled/lossy)",
    "spectral_bandwidth_hz": "spread of the long-term magnitude spectrum around its centroid, Hz",
    "speech_ratio": "share of 32 ms frames Silero VAD marks as speech; missing if not measured",
    "clap_tags": "audio-text similarity of the clip and its plain tag string (the bar captions must clear)",
}

# Per-caption stats (transforms/quality/text.py, consistency.py, clap.py): name -> (type, doc).
CAPTION_STAT_FIELDS = {
    "n_words": (pa.float64(), "words in the caption"),
    "language": (pa.string(), "ISO 639-1 language by py3langid"),
    "language_prob": (pa.float64(), "py3langid's normalised probability of that language"),
    "repetition": (pa.float64(), "share of word 3-grams that repeat an earlier one"),
    "longest_run": (pa.float64(), "longest run of one word or phrase repeated back to back"),
    "refusals": (pa.float64(), "refusal/apology phrases (\"As an AI...\", \"I'm sorry\")"),
    "meta_text": (pa.float64(), "meta-text around an answer (\"Here is a caption:\", \"the given tags\")"),
    "probability_leaks": (pa.float64(), "probabilities or scores leaked from a model (\"piano (0.87)\")"),
    "label_leaks": (pa.float64(), "the word label, tag-list syntax or raw tag ids"),
    "title_leaks": (pa.float64(), "titles or artist/track names from the metadata"),
    "non_music_terms": (pa.float64(), "words for non-music content (speech, podcast, sound effects)"),
    "music_terms": (pa.float64(), "words about music"),
    "instruments": (pa.float64(), "distinct instruments the caption names"),
    "unsupported_instruments": (pa.float64(), "instruments whose family no tag or attribute names"),
    "singing_claims": (pa.float64(), "claims of a singing voice (not negated)"),
    "speech_claims": (pa.float64(), "claims of a speaking voice"),
    "instrumental_claims": (pa.float64(), "statements that there is no voice"),
    "tempo_bpm": (pa.float64(), "tempo the caption names in bpm"),
    "tempo_class": (pa.float64(), "tempo word: -1 slow, 0 medium, 1 fast"),
    "key": (pa.string(), "key the caption names: '<pitch class 0-11> major|minor'"),
    "task_talk": (pa.float64(), "talk about the prompt or task (\"The song description sentence is:\")"),
    "story_claims": (pa.float64(), "stories about the piece (\"a tribute to\", \"written by\", \"legendary\")"),
    "tag_list_run": (pa.float64(), "longest run of comma-separated segments made of the tags' own words"),
    "tag_list_share": (pa.float64(), "share of the caption's words in such segments (1: nothing but tags)"),
    "invented_names": (pa.float64(), "capitalised names (not sentence starts) whose words no tag holds"),
    "unsupported_attributes": (pa.float64(), "instruments, genres, moods named that no tag or attribute supports"),
    "clap": (pa.float64(), "audio-text similarity of the clip and the caption"),
    "findings": (pa.list_(pa.string()), "what the checks matched, as 'kind: evidence'"),
}
CAPTION_STATS_TYPE = pa.struct([pa.field(name, typ) for name, (typ, _) in CAPTION_STAT_FIELDS.items()])

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
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("stats", CAPTION_STATS_TYPE),
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
    ("audio_format", pa.string(), False, "codec/container of the stored audio (the shard member), e.g. flac"),
    ("audio_sha256", pa.string(), True, "sha256 of the stored audio file (the shard member's bytes)"),
    ("audio_size", pa.int64(), True, "size of the stored audio file in bytes"),
    ("tags", pa.list_(TAG_TYPE), False, "normalised tags with category, origin and score"),
    ("attributes", pa.list_(ATTRIBUTE_TYPE), False, "measured music attributes with confidences"),
    ("captions", pa.list_(CAPTION_TYPE), False, "captions with their task and provenance"),
    ("stats", STATS_TYPE, False, "audio quality stats: " + ", ".join(STAT_FIELDS)),
    ("audio_hash", pa.string(), True, "sha256 of the clip's PCM at 16 bits: equal for the same audio in any container"),
    ("fingerprint", pa.string(), True, "base64 audio fingerprint (transforms/quality/fingerprint.py) for near-duplicates"),
    ("split", pa.string(), False, "train / valid / test"),
    ("licence", pa.string(), True, "licence of the source audio, as given by the input"),
    ("provenance", PROVENANCE_TYPE, False, "where the clip came from and what made it"),
    ("schema_version", pa.string(), False, "CLIP_SCHEMA_VERSION of the writer"),
]

CLIP_SCHEMA = schema_of(_FIELDS, "clip", CLIP_SCHEMA_VERSION)

# The clip table: every clip field, plus where the sample sits in the shards.
CLIP_TABLE_SCHEMA = schema_of(_FIELDS + [
    ("shard", pa.string(), False, "file name of the WebDataset shard holding the sample"),
    ("shard_index", pa.int32(), False, "position of the sample within its shard, from 0"),
    ("shard_offset", pa.int64(), False, "byte offset of the sample's first tar header in the shard"),
], "clip", CLIP_SCHEMA_VERSION)


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
    audio_hash: Optional[str] = None
    fingerprint: Optional[str] = None  # base64, so rows stay JSON-safe
    split: str = ""
    audio_format: str = ""
    audio_sha256: Optional[str] = None  # the encoded audio, by reference: see the module docstring
    audio_size: Optional[int] = None
    # PCM, float32 (channels, frames): pipeline-only, never persisted.
    samples: Optional[np.ndarray] = dataclasses.field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def input_uri(self) -> str:
        return self.provenance.input_uri

    def to_row(self) -> dict:
        """The clip as a dict matching CLIP_SCHEMA, JSON-safe."""
        row = {}
        for name, *_ in _FIELDS:
            if name == "duration_s":
                row[name] = self.duration_s
            elif name == "schema_version":
                row[name] = CLIP_SCHEMA_VERSION
            elif name == "stats":
                row[name] = {k: self.stats.get(k) for k in STAT_FIELDS}
            elif name in ("tags", "attributes"):
                row[name] = [dataclasses.asdict(x) for x in getattr(self, name)]
            elif name == "captions":
                row[name] = [caption_row(c) for c in self.captions]
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
        kwargs["captions"] = tuple(caption_from_row(c) for c in row["captions"])
        kwargs["provenance"] = Provenance(**row["provenance"])
        kwargs["stats"] = {k: v for k, v in row["stats"].items() if v is not None}
        return Clip(**kwargs)


def caption_row(caption: Caption) -> dict:
    row = dataclasses.asdict(caption)
    stats = caption.stats or {}
    row["stats"] = {k: stats.get(k) for k in CAPTION_STAT_FIELDS} if stats else None
    if stats and stats.get("findings") is not None:
        row["stats"]["findings"] = list(stats["findings"])
    return row


def caption_from_row(row: dict) -> Caption:
    stats = {k: v for k, v in (row.get("stats") or {}).items() if v is not None}
    if "findings" in stats:
        stats["findings"] = tuple(stats["findings"])
    return Caption(**{**row, "stats": stats})
