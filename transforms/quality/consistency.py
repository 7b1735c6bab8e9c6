"""What a caption claims about the music, checked against what the inputs say about the clip.

Claims read from the text: instruments (with their family), voices ("a female singer", but not
"no vocals"), an explicit tempo ("at 120 bpm") or tempo word ("fast"), and a key ("in F# minor").
Support comes from the clip's tags and attributes. Instrument support is settled here (it needs
the lexicon); voice, tempo and key claims are stored as stats and compared with the clip's
measured stats and attributes by the rules, so tolerances can change without recomputing.
"""

from __future__ import annotations

import functools
import re

from tunescribe.transforms.attributes.base import MODE, TONIC, key_of, key_relation
from tunescribe.transforms.attributes.base import parse_key as parse_key_name
from tunescribe.transforms.quality import lexicon

BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute|beats a minute)\b", re.I)
TEMPO_WORDS = {  # -1 slow, 0 medium, +1 fast
    -1: re.compile(r"\b(slow|slower|very slow|largo|adagio|lento|downtempo|ballad tempo)\b(?! ?(?:-|to) ?(?:medium|mid|fast))", re.I),
    0: re.compile(r"\b(medium|mid|moderate|midtempo|mid-tempo|andante|moderato)\b(?=[ -]*(?:paced|pace|tempo|speed))", re.I),
    1: re.compile(r"\b(fast|faster|very fast|uptempo|up-tempo|quick|rapid|presto|allegro|vivace|frenetic)\b(?=[ -]*(?:paced|pace|tempo|speed|beat|rhythm|song|track|piece|music))", re.I),
}
KEY = re.compile(r"\b(?:in|key of|key:)\s+(?:the\s+key\s+of\s+)?" + TONIC + r"\s*" + MODE + r"\b", re.I)
_NOT_TYPOS = {"melodic", "organic", "harmonic", "bassy", "drummy", "strung", "piany", "voice", "vocal"}  # real words, not typos
_WINDOW = 4  # words before a voice word in which a negation cancels it


def instrument_mentions(text: str, strict: bool = True) -> list[tuple[str, str]]:
    """(name, family) for every instrument the text names, in order. `strict` leaves out mentions
    of a sound rather than the instrument ("synth strings", "sounds like a cello", "open strings"):
    right for claims, while evidence (tags) counts every mention."""
    found = []
    for m in lexicon.INSTRUMENT.finditer(text):
        if strict and (lexicon.NOT_THE_INSTRUMENT_BEFORE.search(text[max(0, m.start() - 24):m.start()])
                       or lexicon.NOT_THE_INSTRUMENT_AFTER.search(text[m.end():m.end() + 24])):
            continue
        name = m.group(1).lower()
        found.append((name, lexicon.FAMILY_OF[name]))
    return found


def _near_keys(vocabulary) -> set[tuple]:
    """Every key under which `_near_any` finds a word within one edit or swap of a vocabulary word
    (of five letters or more): built once per vocabulary, so each word costs a few set lookups
    instead of a comparison with every vocabulary word."""
    keys: set[tuple] = set()
    for v in vocabulary:
        if len(v) < 5:
            continue
        keys.add(("=", v))  # a word one letter longer, less a letter, is v
        for i in range(len(v)):
            rest = v[:i] + v[i + 1:]
            keys.add(("~", i, rest))  # a word as long, differing at most at letter i
            keys.add(("-", rest))  # a word one letter shorter: v less a letter
        for i in range(len(v) - 1):
            keys.add(("x", v[:i] + v[i + 1] + v[i] + v[i + 2:]))  # two neighbouring letters swapped
    return keys


def _near_any(word: str, keys: set[tuple]) -> bool:
    if len(word) < 5:
        return False
    if ("-", word) in keys or ("x", word) in keys:
        return True
    for i in range(len(word)):
        rest = word[:i] + word[i + 1:]
        if ("~", i, rest) in keys or ("=", rest) in keys:
            return True
    return False


def supported_families(tags, attributes=()) -> set[str]:
    """Instrument families the tags and instrument attributes name or almost spell."""
    evidence = tuple([t.name.lower() for t in tags] + [
        (a.value or "").lower() for a in attributes if a.value and "instrument" in a.name])
    return set(_families_named(evidence))


@functools.lru_cache(maxsize=1024)
def _families_named(evidence: tuple[str, ...]) -> frozenset[str]:
    """supported_families of the evidence strings. Cached: every caption of a clip, and every clip
    of a source, has the same tags."""
    known = {family for e in evidence for _, family in instrument_mentions(e, strict=False)}
    if any(lexicon.SYNTH_EVIDENCE.search(e) for e in evidence):
        known.add("synth")
    # Only words that are not instrument names already: those went through instrument_mentions.
    vocabulary = {w.removesuffix("s") for e in evidence for w in re.findall(r"[a-z]+", e)}
    vocabulary -= set(lexicon.FAMILY_OF) | _NOT_TYPOS
    keys = _near_keys(vocabulary)
    known |= {family for name, family in lexicon.FAMILY_OF.items() if " " not in name and _near_any(name, keys)}
    return frozenset(known)


def _unsupported(mentions: list[tuple[str, str]], tags, attributes) -> list[str]:
    """The instruments among a caption's (strict) `mentions` whose family the inputs do not name.
    Bass and percussion never count (see lexicon.RHYTHM_SECTION). Tags that name no instrument
    support none (LP-MusicCaps' typical hallucination: "rock, happy" -> "a driving electric
    guitar"); a clip with no tags or instrument attributes at all has nothing to contradict."""
    if not tags and not any("instrument" in a.name for a in attributes):
        return []  # nothing to contradict
    known = supported_families(tags, attributes)
    return sorted({name for name, family in mentions
                   if family not in known and family not in lexicon.RHYTHM_SECTION})


def _negated(text: str, start: int) -> bool:
    before = re.findall(r"[\w']+", text[max(0, start - 60):start].lower())[-_WINDOW:]
    return any(w in lexicon.NEGATIONS for w in before)


def voice_claims(text: str) -> tuple[list[str], list[str]]:
    """(singing voices, speaking voices) the text claims: voice words not negated in the few words
    before them ("no vocals", "without a singer"), split by whether the voice sings or speaks."""
    singing, speaking = [], []
    for m in lexicon.VOCAL.finditer(text):
        after = text[m.end():m.end() + 30]
        if _negated(text, m.start()) or lexicon.NOT_A_VOICE_AFTER.search(after) or \
                re.match(r"\s*(?:-|\s)?(?:free|less)\b|[\s,]*(?:are|is) (?:absent|missing)", after, re.I):
            continue
        word = m.group(1).lower()
        if word in ("voice", "voices") and lexicon.NOT_A_VOICE_BEFORE.search(text[max(0, m.start() - 24):m.start()]):
            continue
        (speaking if word in ("voice", "voices") and lexicon.SPEECH_AFTER.search(after) else singing).append(word)
    speaking += [m.group(1).lower() for m in lexicon.SPEECH_WORDS.finditer(text) if not _negated(text, m.start())]
    return singing, speaking


def instrumental_claims(text: str) -> int:
    """Explicit statements that there is no voice ("instrumental", "no vocals")."""
    negated = sum(1 for m in lexicon.VOCAL.finditer(text) if _negated(text, m.start()))
    return negated + len(re.findall(r"\binstrumental\b", text, re.I))


def tempo_claim(text: str) -> tuple[float | None, float | None]:
    """(bpm named in the text, tempo class -1/0/+1 named by a word), either None."""
    bpm = BPM.search(text)
    cls = None
    for value, pattern in TEMPO_WORDS.items():
        if pattern.search(text):
            cls = float(value) if cls is None else (cls if cls == value else None)
    return (float(bpm.group(1)) if bpm else None), cls


def parse_key(text: str) -> str | None:
    """A key named in `text` as "<pitch class 0-11> major|minor", e.g. "6 minor" for F# minor."""
    m = KEY.search(text)
    return "%d %s" % key_of(*m.groups()) if m else None


def key_of_attribute(value: str | None) -> str | None:
    """An attribute value such as "F# minor", "Ab major", "A- major" in the form of parse_key."""
    try:
        return "%d %s" % parse_key_name(value)
    except ValueError:
        return None


def keys_agree(claimed: str, measured: str, allow_relative: bool = True) -> bool:
    """Same key, or (with allow_relative) its relative major/minor, which key finders confuse."""
    relation = key_relation(*((int(pc), mode) for pc, mode in (k.split() for k in (claimed, measured))))
    return relation == "exact" or (allow_relative and relation == "relative")


def _tag_words(tags) -> set[str]:
    return {w for t in tags for w in re.findall(r"[a-z0-9&]+", t.name.lower())}


_SEGMENT_EDGES = re.compile(r"^(?:and|or|the|a|an|with|is|are|:)\s+|[\s\"'“”.:!]+$|^[\s\"'“”]+", re.I)


def tag_list(text: str, tags) -> tuple[int, float]:
    """(longest run, share of words) of comma-separated segments that are each made of the tags' own
    words (at most four words, "and"/"the" aside): a caption that lists its tags ("low quality,
    noisy, cover, rock, ...") instead of saying something in sentences. A sentence end breaks a run;
    the share is over all the caption's words, so a caption that is nothing but its tags scores 1."""
    known = _tag_words(tags)
    total = len(re.findall(r"[a-z0-9&]+", text.lower()))
    if not known or not total:
        return 0, 0.0
    best = run = listed = 0
    for segment in re.split(r"[,;]|(?<=[.!?])\s", text):
        core = _SEGMENT_EDGES.sub("", segment.strip())
        core = _SEGMENT_EDGES.sub("", core)
        ws = [w for w in re.findall(r"[a-z0-9&]+", core.lower()) if w not in ("and", "the", "a", "an", "or")]
        if ws and len(ws) <= 4 and all(w in known or w.removesuffix("s") in known for w in ws):
            run += 1
            best = max(best, run)
            listed += len(re.findall(r"[a-z0-9&]+", segment.lower()))
        else:
            run = 0
        if segment.rstrip().endswith((".", "!", "?")):
            run = 0
    return best, listed / total


def invented_names(text: str, tags) -> list[str]:
    """Names (two or more capitalised words, not starting a sentence) whose words the tags do not
    hold: a title, an artist or a place the model made up ("Kenny Dexter")."""
    from tunescribe.transforms.evaluation.hallucination import categorise

    known = _tag_words(tags)
    names = []
    for m in lexicon.NAME.finditer(text):
        parts = [w.lower() for w in re.split(r"[ -]", m.group(0)) if w.lower() not in ("of", "the", "to", "and")]
        if categorise(m.group(0).lower())[1] is None and not all(w in known for w in parts):
            names.append(m.group(0))
    return names


def story_claims(text: str, tags) -> list[str]:
    """Stories about the piece (lexicon.STORY: "a tribute to", "legendary", "written by") whose words
    the tags do not hold (a tag "legends" vouches for "legends")."""
    known = _tag_words(tags)
    return [m.group(0) for m in lexicon.STORY.finditer(text)
            if not all(w in known for w in re.findall(r"[a-z0-9&]+", m.group(0).lower()))]


def unsupported_attributes(text: str, tags, attributes=()) -> list[str]:
    """Instruments, genres and moods the caption names that its inputs do not, read with the tag
    vocabulary as the hallucination measure of `tunescribe evaluate` reads them
    (transforms/evaluation/hallucination.py), as "category: phrase"."""
    from tunescribe.transforms.evaluation.hallucination import hallucinations

    return [f"{category} {phrase}" for phrase, category in hallucinations(text, tags, attributes)]


def claim_stats(text: str, tags, attributes=()) -> tuple[dict, list[str]]:
    """(stats, findings) for the caption's claims."""
    instruments = instrument_mentions(text)
    unsupported = _unsupported(instruments, tags, attributes)
    singing, speaking = voice_claims(text)
    bpm, tempo_class = tempo_claim(text)
    stats = {
        "instruments": float(len({n for n, _ in instruments})),
        "unsupported_instruments": float(len(unsupported)),
        "singing_claims": float(len(singing)),
        "speech_claims": float(len(speaking)),
        "instrumental_claims": float(instrumental_claims(text)),
        "tempo_bpm": bpm,
        "tempo_class": tempo_class,
        "key": parse_key(text),
    }
    names, attrs = invented_names(text, tags), unsupported_attributes(text, tags, attributes)
    stories = story_claims(text, tags)
    run, share = tag_list(text, tags)
    stats.update({"tag_list_run": float(run), "tag_list_share": share, "invented_names": float(len(names)),
                  "story_claims": float(len(stories)),
                  "unsupported_attributes": float(len(attrs))})
    findings = [f"unsupported_instrument: {n}" for n in unsupported]
    findings += [f"invented_name: {n}" for n in dict.fromkeys(names)]
    findings += [f"story: {n}" for n in dict.fromkeys(stories)]
    findings += [f"unsupported_attribute: {a}" for a in dict.fromkeys(attrs)]
    findings += [f"singing: {v}" for v in dict.fromkeys(singing)]
    findings += [f"speech: {v}" for v in dict.fromkeys(speaking)]
    return stats, findings
