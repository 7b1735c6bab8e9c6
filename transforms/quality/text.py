"""Text stats of one caption: length, language, repetition, and counts of the patterns that give a
bad caption away (refusals, meta-text, leaked probabilities or labels, titles, non-music content,
talk about the prompt or task).

Pure functions of the text, computed once per caption and stored in `Caption.stats`; the quality
rules (rules.py) decide on them with thresholds from the config.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from tunescribe.transforms.quality import lexicon

WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


@functools.lru_cache(maxsize=1)
def _language_identifier():
    # py3langid ships its model in the wheel; normalised probabilities make thresholds meaningful.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_of(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) by py3langid; ("", 0.0) for text without letters."""
    if not any(ch.isalpha() for ch in text):
        return "", 0.0
    lang, prob = _language_identifier().classify(text)
    return lang, float(prob)


def repetition(tokens: list[str], n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text (0 = none, ->1 = a loop).

    Looping generations ("... and a guitar, and a guitar, and a guitar") score high; ordinary
    captions repeat a few short phrases ("the piano plays") and score low."""
    if len(tokens) < n + 1:
        return 0.0
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams)


def longest_run(tokens: list[str]) -> int:
    """Longest run of one repeated unit of 1-4 words back to back ("la la la la", "so so so")."""
    best = 1
    for size in range(1, 5):
        for start in range(size):
            run = 1
            for i in range(start + size, len(tokens) - size + 1, size):
                if tokens[i:i + size] == tokens[i - size:i]:
                    run += 1
                    best = max(best, run)
                else:
                    run = 1
    return best


def _matches(pattern: re.Pattern, text: str) -> list[str]:
    return [m.group(0).strip() for m in pattern.finditer(text)]


def name_leaks(text: str, names) -> list[str]:
    """Names from the clip's metadata (artist, track, album) that appear in the caption. Ids that do
    not look like names (no letters, or long hex/number ids) are skipped."""
    found = []
    lowered = text.lower()
    for name in names:
        if not name or len(name) < 4 or not re.search(r"[A-Za-z]{3}", name) or re.fullmatch(r"[\w-]*\d{3,}[\w-]*", name):
            continue
        if re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", lowered):
            found.append(name)
    return found


def text_stats(text: str, names=()) -> tuple[dict, list[str]]:
    """(stats, findings) of one caption. Findings are short "kind: evidence" strings that the reject
    details quote, so a reader sees what was matched."""
    tokens = words(text)
    lang, lang_prob = language_of(text)
    found = {
        "refusal": _matches(lexicon.REFUSAL, text),
        "meta_text": _matches(lexicon.META, text),
        "probability": _matches(lexicon.PROBABILITY, text),
        "label": _matches(lexicon.LABEL, text),
        "title": _matches(lexicon.TITLE, text),
        "name": name_leaks(text, names),
        "non_music": _matches(lexicon.NON_MUSIC, text),
        "task_talk": _matches(lexicon.TASK_TALK, text),
    }
    stats = {
        "n_words": float(len(tokens)),
        "language": lang,
        "language_prob": lang_prob,
        "repetition": repetition(tokens),
        "longest_run": float(longest_run(tokens)),
        "refusals": float(len(found["refusal"])),
        "meta_text": float(len(found["meta_text"])),
        "probability_leaks": float(len(found["probability"])),
        "label_leaks": float(len(found["label"])),
        "title_leaks": float(len(found["title"]) + len(found["name"])),
        "non_music_terms": float(len(found["non_music"])),
        "music_terms": float(len(lexicon.MUSIC.findall(text)) + len(lexicon.INSTRUMENT.findall(text))),
        "task_talk": float(len(found["task_talk"])),
    }
    findings = [f"{kind}: {m}" for kind, ms in found.items() for m in dict(Counter(ms))]
    return stats, findings
