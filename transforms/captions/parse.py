"""Reading a model's answer into a caption; an answer that cannot be read is a reject, not a crash.

`read_answer(output, raw)` returns (caption text, predicted attributes) or raises `Rejected`
with the raw answer in the detail, so a bad answer can be inspected (and re-asked) later.
- "text": the answer itself, cleaned (control characters, stray quotes, whitespace).
- "attribute_prediction": LP-MusicCaps' python dictionary {'new_attribute': ..., 'description': ...}
  (GPT-3.5 wrote it as a Python literal, as JSON, in code fences, or with chatter around it);
  the description is the caption, the new attributes come back for the clip's tags.
- "key_facts": a JSON object with the KEY_FACTS keys; the caption is its canonical JSON.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Optional

from tunescribe.transforms.models.generation import clean_text
from tunescribe.transforms.stage import Rejected

RAW_KEPT = 2000
LIST_FACTS = ("genre", "instruments", "mood")
TEXT_FACTS = ("tempo", "key", "vocals", "description")
_QUOTES = "\"'`“”‘’"


def _raw(raw: str) -> str:
    return f"raw output: {raw[:RAW_KEPT]!r}"


def read_text(raw: str) -> str:
    text = clean_text(raw)
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if not text:
        raise Rejected("empty_caption", "the model answered nothing usable; " + _raw(raw))
    return text


def _object_in(raw: str) -> Optional[dict]:
    """The first {...} in `raw` that parses as JSON or as a Python literal dict."""
    text = re.sub(r"```[a-zA-Z]*", "", raw)
    # Widest spans first; a few braces each side is plenty for real answers and keeps a long
    # garbage answer from costing a quadratic number of parses.
    starts = [m.start() for m in re.finditer(r"\{", text)][:8]
    ends = [m.start() for m in re.finditer(r"\}", text)][-8:][::-1]
    for start in starts:
        for end in ends:
            if end <= start:
                continue
            for parse in (json.loads, ast.literal_eval):
                try:
                    value = parse(text[start:end + 1])
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                if isinstance(value, dict):
                    return value
    return None


def _words(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [w.strip() for w in value.split(",") if w.strip()]
    if isinstance(value, (list, tuple)):
        return [str(w).strip() for w in value if w is not None and str(w).strip()]
    raise TypeError(f"{type(value).__name__} where a list of words was expected")


def read_attribute_prediction(raw: str) -> tuple[str, list[str]]:
    data = _object_in(raw)
    if data is None:
        raise Rejected("malformed_attribute_prediction", "no dictionary in the answer; " + _raw(raw))
    description = data.get("description")
    if not isinstance(description, str) or not clean_text(description):
        raise Rejected("malformed_attribute_prediction", "no description string; " + _raw(raw))
    try:
        new = _words(data.get("new_attribute", data.get("new_attributes")))
    except TypeError as exc:
        raise Rejected("malformed_attribute_prediction", f"new_attribute: {exc}; " + _raw(raw)) from None
    return read_text(description), new


def read_key_facts(raw: str) -> str:
    data = _object_in(raw)
    if data is None:
        raise Rejected("malformed_key_facts", "no JSON object in the answer; " + _raw(raw))
    facts: dict = {}
    try:
        for key in LIST_FACTS:
            facts[key] = _words(data.get(key))
        for key in TEXT_FACTS:
            value = data.get(key)
            if isinstance(value, (list, tuple)):
                value = ", ".join(_words(value))
            facts[key] = clean_text(str(value)) if value not in (None, "") else None
    except TypeError as exc:
        raise Rejected("malformed_key_facts", f"{exc}; " + _raw(raw)) from None
    if not any(facts.values()):
        raise Rejected("malformed_key_facts", "none of the keys " + ", ".join(LIST_FACTS + TEXT_FACTS)
                       + " has a value; " + _raw(raw))
    return json.dumps(facts, sort_keys=True, ensure_ascii=False)


def read_answer(output: str, raw: str) -> tuple[str, list[str]]:
    """(caption text, predicted attributes) from a model's raw answer; raises Rejected."""
    if output == "attribute_prediction":
        return read_attribute_prediction(raw)
    if output == "key_facts":
        return read_key_facts(raw), []
    return read_text(raw), []
