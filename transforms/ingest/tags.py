"""Tag normalisation shared by every input reader: one spelling and one category per tag, nothing dropped."""

from __future__ import annotations

import ast
import json
from typing import Iterable

from tunescribe.schemas import Tag
from tunescribe.transforms.ingest.vocabulary import categorise


def _parse_list(text: str):
    """A JSON list, or a Python-style list literal (MusicCaps' aspect_list: ['a', "b's"]); else None."""
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(parsed, (list, tuple)):
            return [str(v) for v in parsed if v is not None]
    return None


def split_tag_field(value, separator: str = ",") -> list[str]:
    """A manifest cell to a list of raw tags: a list, a JSON or Python list literal, or a
    `separator`-joined string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    text = str(value).strip()
    if text.startswith("["):
        parsed = _parse_list(text)
        if parsed is not None:
            return parsed
    return text.split(separator) if separator else [text]


def normalise_tags(raw_tags: Iterable[str], origin: str = "manifest") -> tuple[Tag, ...]:
    """Maps raw tags onto the vocabulary (vocabulary.py) and de-duplicates them, keeping first-seen
    order. The same name in two categories (MTG-Jamendo's genre---x and mood/theme---x) is two tags.
    Empty strings are not tags."""
    seen: dict[tuple[str, str], Tag] = {}
    for raw in raw_tags:
        name, category = categorise(raw)
        if name and (name, category) not in seen:
            seen[name, category] = Tag(name=name, category=category, origin=origin)
    return tuple(seen.values())
