"""English agreement for the offline captioner: plurals, "a"/"an", and lists joined "a, b and c".

Rough rules tuned to music tag phrases (instrument, voice and genre names), with the exceptions
listed in the phrasing tables (phrasing.py: PLURAL_WORDS, SINGULAR_S, VOICE_NOUNS, MASS_NOUNS,
ING_NOUNS)."""

from __future__ import annotations

import re
from typing import Sequence

from tunescribe.transforms.captions import phrasing as P


def word_list(name: str) -> list[str]:
    return re.findall(r"[a-z0-9&+'/-]+", name.lower())


def is_plural(phrase: str) -> bool:
    words = word_list(phrase) or [""]
    last = words[-1]
    if P.PLURAL_WORDS & set(words):  # "people talking"
        return True
    heads = [w for w in words if w in P.VOICE_NOUNS]  # "female voice singing vocables": one voice
    if heads:
        return heads[-1] in P.PLURAL_WORDS or (heads[-1].endswith("s") and heads[-1] != "chorus")
    return len(last) > 2 and last.endswith("s") and not last.endswith(("ss", "us", "is")) and last not in P.SINGULAR_S


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def article(word: str) -> str:
    """ "a" or "an" before `word` (by its sound, roughly: "an e-bass", "a ukulele", "an 808")."""
    w = word.lower()
    vowel = w[:1] in "aeiou" and not w.startswith(("uni", "uk", "use", "eu", "one"))
    letters = w[:1] in "fhlmnrsx" and (len(w) <= 3 or "&" in w) and not set(w[:3]) & set("aeiouy")  # r&b, edm
    return "an" if vowel or letters or w.startswith(("hour", "honest", "8", "11", "18")) else "a"


def with_article(phrase: str) -> str:
    """ "a piano", "an e-bass"; none before a plural, a gerund ("gentle playing") or a mass noun."""
    words = word_list(phrase) or [""]
    last = ([w for w in words if w in P.VOICE_NOUNS] or words)[-1]  # "a man talking"
    if is_plural(phrase) or last in P.MASS_NOUNS or (last.endswith("ing") and last not in P.ING_NOUNS):
        return phrase
    return f"{article(phrase)} {phrase}"
