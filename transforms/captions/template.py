"""Offline captioner: writes a sentence from a clip's tags with fixed templates, no model.

Deterministic: the template is chosen by a hash of the clip key, so a rerun writes the same
caption. A clip without tags gets no caption (the quality stage decides what that means).
"""

from __future__ import annotations

import dataclasses
import hashlib

import apache_beam as beam

from tunescribe.schemas import Caption, Clip

PROMPT_ID = "template-basic"
PROMPT_VERSION = "1"

# Templates for the parts of a sentence, by tag category; {x} is an "a, b and c" list.
OPENINGS = ("This {genre} track", "A {genre} piece", "The {genre} recording")
PLAIN_OPENINGS = ("This track", "A piece of music", "The recording")
INSTRUMENTS = ("features {x}", "is played on {x}", "is built around {x}")
FALLBACK = ("is characterized by {x}", "is described as {x}", "comes with {x}")


def join_words(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def write_caption(tags, choice: int) -> str:
    """One sentence from tags grouped by category; `choice` picks among the template variants."""
    by_cat: dict[str, list[str]] = {}
    for tag in tags:
        by_cat.setdefault(tag.category, []).append(tag.name)
    if not by_cat:
        return ""
    pick = lambda options: options[choice % len(options)]  # noqa: E731
    genre = by_cat.pop("genre", [])
    sentence = pick(OPENINGS).format(genre=join_words(genre)) if genre else pick(PLAIN_OPENINGS)
    parts = []
    if "instrument" in by_cat:
        parts.append(pick(INSTRUMENTS).format(x=join_words(by_cat.pop("instrument"))))
    if "vocals" in by_cat:
        parts.append("has " + join_words(by_cat.pop("vocals")))
    if "mood" in by_cat:
        parts.append("sounds " + join_words(by_cat.pop("mood")))
    if "tempo" in by_cat:
        parts.append("moves at a " + join_words(by_cat.pop("tempo")) + " pace")
    rest = [name for names in by_cat.values() for name in names]
    if rest:
        parts.append(pick(FALLBACK).format(x=join_words(rest)))
    return f"{sentence} {join_words(parts)}." if parts else f"{sentence}."


class TemplateCaptioner(beam.DoFn):
    """Clip -> Clip with one template caption added (when it has tags)."""

    def process(self, clip: Clip):
        choice = int(hashlib.sha1(clip.key.encode()).hexdigest()[:8], 16)
        text = write_caption(clip.tags, choice)
        if text:
            caption = Caption(text=text, task="template", backend="template", prompt_id=PROMPT_ID,
                              prompt_version=PROMPT_VERSION)
            clip = dataclasses.replace(clip, captions=clip.captions + (caption,))
        yield clip
