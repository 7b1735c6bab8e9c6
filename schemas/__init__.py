"""Record types and their Arrow schemas: the contract between stages and with readers."""

from tunescribe.schemas.clip import (
    CAPTION_STAT_FIELDS,
    CLIP_SCHEMA,
    CLIP_SCHEMA_VERSION,
    CLIP_TABLE_SCHEMA,
    STAT_FIELDS,
    Attribute,
    Caption,
    Clip,
    Provenance,
)
from tunescribe.schemas.dropped_caption import (
    DROPPED_CAPTION_SCHEMA,
    DROPPED_CAPTION_SCHEMA_VERSION,
    DroppedCaption,
)
from tunescribe.schemas.reject import REJECT_SCHEMA, REJECT_SCHEMA_VERSION, Reject
from tunescribe.schemas.source import DecodedAudio, SourceItem, source_key
from tunescribe.schemas.tags import TAG_CATEGORIES, Tag

__all__ = [
    "Attribute", "Caption", "Clip", "DroppedCaption", "Provenance", "Reject", "SourceItem", "DecodedAudio", "Tag",
    "CAPTION_STAT_FIELDS", "CLIP_SCHEMA", "CLIP_TABLE_SCHEMA", "CLIP_SCHEMA_VERSION", "STAT_FIELDS",
    "DROPPED_CAPTION_SCHEMA", "DROPPED_CAPTION_SCHEMA_VERSION",
    "REJECT_SCHEMA", "REJECT_SCHEMA_VERSION", "TAG_CATEGORIES", "source_key",
]
