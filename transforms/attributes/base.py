"""The interface every music-attribute extractor implements, and the vocabulary they share.

An extractor measures tempo, key and/or meter from mono audio at the rate it asks for and
returns `schemas.Attribute`s, each with a confidence in [0, 1] and the extractor's name and
version. Backends with heavy imports or models load them in `setup()` (called once per worker),
never in `__init__`, so configs and pipelines stay cheap to build and to pickle.
"""

from __future__ import annotations

import abc
import re
from typing import Optional

import numpy as np

from tunescribe.schemas import Attribute

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# A key's tonic as written: its letter, then accidentals (#, b, ♯, ♭, music21's "-") or the word.
TONIC = r"([A-Ga-g])\s*(sharp|flat|[#b\-♯♭]*)"
MODE = r"(major|minor|maj|min|m)"
_KEY = re.compile(r"^\s*" + TONIC + r"\s*" + MODE + r"?\s*$", re.I)


class AttributeExtractor(abc.ABC):
    """Audio -> attributes. Subclasses set `name`, `licence`, `rate` and implement `extract`."""

    name = "base"
    licence = ""
    rate = 22050  # the sample rate `extract` wants its audio at

    def setup(self) -> None:
        """Loads libraries/models; called once per worker before the first `extract`."""

    def version(self) -> str:
        return ""

    @abc.abstractmethod
    def extract(self, mono: np.ndarray) -> list[Attribute]:
        """Attributes of mono float32 audio at `rate`."""

    def attribute(self, name: str, value: Optional[str] = None, number: Optional[float] = None,
                  confidence: Optional[float] = None) -> Attribute:
        label = f"{self.name} {self.version()}".strip()
        conf = None if confidence is None else float(min(1.0, max(0.0, confidence)))
        return Attribute(name=name, value=value, number=None if number is None else float(number),
                         confidence=conf, extractor=label)


def key_name(tonic: int, mode: str) -> str:
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


def parse_key(text: str) -> tuple[int, str]:
    """"F# minor", "A- major" (music21's flat), "Bb", "ebm" -> (pitch class, "major"|"minor")."""
    m = _KEY.match(text or "")
    if not m:
        raise ValueError(f"not a key: {text!r}")
    return key_of(*m.groups())


def key_of(letter: str, accidentals: str, mode: Optional[str]) -> tuple[int, str]:
    """The groups of TONIC and MODE -> (pitch class, "major"|"minor"); no mode is major."""
    accidentals = (accidentals or "").lower()
    shift = {"sharp": 1, "flat": -1}.get(accidentals, sum(1 if a in "#♯" else -1 for a in accidentals))
    return (_LETTERS[letter.upper()] + shift) % 12, "minor" if (mode or "").lower() in ("minor", "min", "m") else "major"


def key_relation(estimate: tuple[int, str], truth: tuple[int, str]) -> str:
    """How an estimated key relates to the true one (both as parse_key gives them), as key-finding
    evaluations score it (MIREX): "exact", "fifth" (dominant/subdominant, same mode), "relative"
    (relative major/minor), "parallel" (same tonic, other mode) or "other"."""
    (pe, me), (pt, mt) = estimate, truth
    if (pe, me) == (pt, mt):
        return "exact"
    if me == mt and (pe - pt) % 12 in (5, 7):
        return "fifth"
    if me != mt and (pe - pt) % 12 == (9 if mt == "major" else 3):
        return "relative"
    if pe == pt:
        return "parallel"
    return "other"


def tempo_matches(estimate: float, truth: float, tolerance: float = 0.04, octave: bool = False) -> bool:
    """Within `tolerance` (relative; 0.04 as MIREX scores) of the true tempo; with `octave`, half or double it also
    counts (a beat tracker's usual error, and a caption's)."""
    factors = (1.0, 0.5, 2.0) if octave else (1.0,)
    return any(abs(estimate - truth * f) <= tolerance * truth * f for f in factors)
