"""Tag normalisation shared by every input reader: one spelling per tag, nothing dropped."""

from __future__ import annotations

import json
import re
from typing import Iterable

from tunescribe.schemas import Tag

_SPACES = re.compile(r"\s+")


def split_tag_field(value, separator: str = ",") -> list[str]:
    """A manifest cell to a list of raw tags: a list, a JSON list, or a `separator`-joined string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v) for v in parsed]
        except ValueError:
            pass  # not JSON: treat as a plain separated string
    return text.split(separator) if separator else [text]


def normalise_tag(raw: str) -> str:
    return _SPACES.sub(" ", raw.replace("_", " ")).strip().lower()


def normalise_tags(raw_tags: Iterable[str], origin: str = "manifest") -> tuple[Tag, ...]:
    """Lower-cases and de-duplicates tags, keeping first-seen order. Empty strings are not tags."""
    seen: dict[str, Tag] = {}
    for raw in raw_tags:
        name = normalise_tag(raw)
        if name and name not in seen:
            seen[name] = Tag(name=name, category="other", origin=origin)
    return tuple(seen.values())
