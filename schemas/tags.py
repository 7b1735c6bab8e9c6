"""A tag on a clip: a normalised label with its category, where it came from and how sure that was."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pyarrow as pa

TAG_CATEGORIES = ("genre", "instrument", "mood", "vocals", "tempo", "quality", "other")

TAG_TYPE = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("score", pa.float64()),
    ]
)


@dataclasses.dataclass(frozen=True)
class Tag:
    name: str  # normalised: lower case, single spaces
    category: str = "other"  # one of TAG_CATEGORIES
    origin: str = "manifest"  # "manifest" or the model/extractor that produced it
    score: Optional[float] = None  # model confidence; None for tags given by the input
