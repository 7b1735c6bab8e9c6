"""The offline captioner: MusicCaps-style sentences from a clip's tags and attributes, no model.

Every content word comes from the clip's own tags (genre, instruments, vocals, mood, tempo,
quality, other) and measured attributes (tempo in bpm, key, meter); the sentences around them
come from the phrasing tables (phrasing.py), in the style the style model (style_model.py)
expects captions of such tags to be written in. Nothing is added that the inputs do not say.

One caption per task style (LP-MusicCaps' four, in their spirit):
    writing               the full description, in the most likely style
    paraphrase            the same facts in the second most likely style
    summary               the main facts in one or two sentences
    attribute_prediction  every fact in a third style (LP-MusicCaps' LLM adds co-occurring
                          attributes here; offline nothing is predicted, so nothing is added)
Deterministic: the frame variants are drawn by a hash of (seed, clip key), each task taking a
different one where a slot has several; the seed is recorded in each caption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import apache_beam as beam

from tunescribe.schemas import Attribute, Caption, Clip, Tag
from tunescribe.transforms.captions import phrasing as P
from tunescribe.transforms.captions import style_model
from tunescribe.transforms.captions.grammar import article, is_plural, join_words, with_article, word_list
from tunescribe.transforms.captions.prompts import LP_MUSICCAPS_TASKS as TASKS
from tunescribe.transforms.captions.prompts import PREDICTED_ORIGIN  # tags an LLM predicted: outputs, never inputs
from tunescribe.transforms.captions.settings import FALLBACK_TASK, TemplateCaptions
from tunescribe.transforms.ingest.vocabulary import CANONICAL

VOCABULARY_MOODS = frozenset(CANONICAL["mood"].split())  # the vocabulary's one-word moods and themes

BACKEND = "template"  # no model: the backend name the corpus has always used for template captions
PROMPT_PREFIX = "offline-"
PROMPT_VERSION = "1"
# The librosa tempo's confidence (its metrical level's margin over the others) below which the caption
# says no bpm: at 0.55, 0.98 of the seed-1 rendered ensembles' stated tempi were the beat, and 0.97 of
# seed 2's (benchmarks/tempo.py, benchmarks/results/tempo-*-after.json).
TEMPO_MIN_CONFIDENCE = 0.55
MIN_WORDS = 4  # the quality gate's default minimum (quality.captions.min_words)
_FIELD = re.compile(r"\{(?:(a|A|is|the|each) )?([a-z_]+)\}")
# A voice already doing something ("male voice talking") is not said to be singing as well.
_SINGING = re.compile(r"\b((?:sing|speak|talk|rapp|humm|whistl|chant|narrat|shout|scream|yell|laugh|croon|yodel|"
                      r"beatbox|vocaliz|vocalis)ing\b[^.,]*?) singing\b")
_AN = re.compile(r"\b([Aa])\(n\) (\S+)")
_VERBS = {"sings": "sing", "plays": "play", "is": "are", "has": "have"}


# --- facts ----------------------------------------------------------------------------------------

KINDS = ("genre", "vocal", "instrumental", "instrument", "percussion", "negation", "mood", "mood_noun", "theme",
         "tempo", "quality", "audio_quality", "setting", "other", "bpm", "key", "meter")


def _sort_tag(tag: Tag) -> Optional[tuple[str, str]]:
    """(kind, phrase) of a tag: which slot family it fills and the words it is written with."""
    name, category = tag.name.strip(), tag.category
    words = word_list(name)
    if not words:
        return None
    if category == "vocals" and name == "instrumental":
        return "instrumental", name
    if words[0] == "no" and len(words) > 1:
        return "negation", name
    if category == "genre":
        return "genre", name
    if category == "vocals":
        return "vocal", name
    if category == "instrument":
        if len(words) > 1 and words[-1] in P.INSTRUMENT_SUFFIXES:
            name = name.rsplit(" ", 1)[0]
        return ("percussion" if P.PERCUSSION_WORDS & set(words) else "instrument"), name
    if category == "mood":
        if len(words) > 1 and words[-1] in P.MOOD_SUFFIXES and _adjective(name.rsplit(" ", 1)[0]):
            return "mood", name.rsplit(" ", 1)[0]  # "happy mood" -> "happy"
        if len(words) == 1:
            return ("theme" if name in P.THEMES else "mood"), name
        return "mood_noun", name
    if category == "tempo":
        return "tempo", name
    if category == "quality":
        m = re.fullmatch(r"(\w+) (?:audio |sound |recording )?quality(?: audio| recording)?", name)
        if m and (" audio" in name or " sound" in name or name.endswith(("audio", "recording"))):
            return "audio_quality", m.group(1)
        if len(words) == 1 and name in P.SOUND_NOUNS:
            return "other", name
        if len(words) == 1 or (len(words) == 2 and words[1] == "quality"):
            return "quality", name
        return ("setting" if words[-1] in P.SETTING_NOUNS else "other"), name
    if len(words) == 1 and _adjective(name):
        return "mood", name
    return "other", name


def _adjective(word: str) -> bool:
    """Roughly: does this word describe (it sounds <word>)? For single words of free-form tags."""
    return " " not in word and word not in P.NOT_ADJECTIVES and (
        word in P.ADJECTIVES or word.endswith(P.ADJECTIVE_ENDINGS) or
        (word in VOCABULARY_MOODS and word not in P.THEMES))


def clip_facts(tags: Iterable[Tag], attributes: Iterable[Attribute] = (), min_confidence: float = 0.0) -> dict:
    """The clip's inputs sorted into kinds: {kind: [phrase, ...]}, each phrase once, input order kept."""
    facts: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for tag in tags:
        if tag.origin.startswith(PREDICTED_ORIGIN):
            continue
        sorted_tag = _sort_tag(tag)
        if sorted_tag and sorted_tag[1] not in facts[sorted_tag[0]]:
            facts[sorted_tag[0]].append(sorted_tag[1])
    best: dict[str, Attribute] = {}
    for a in attributes:  # the most confident measurement of each attribute
        if a.confidence is not None and a.confidence < min_confidence:  # too unsure to state
            continue
        if a.name == "tempo" and (a.extractor or "").startswith("librosa") and (a.confidence or 0.0) < TEMPO_MIN_CONFIDENCE:
            continue  # its metrical level (half, double, 2/3 of the beat) is in doubt: no bpm rather than a wrong one
        if a.name not in best or (a.confidence or 0) > (best[a.name].confidence or 0):
            best[a.name] = a
    if "tempo" in best and best["tempo"].number:
        facts["bpm"].append(f"{best['tempo'].number:.0f}")
    if "key" in best and best["key"].value:
        facts["key"].append(best["key"].value)
    if "meter" in best and best["meter"].value:
        facts["meter"].append(best["meter"].value)
    return facts


# --- fields ---------------------------------------------------------------------------------------

def _genre_noun(facts, noun: str, countable: bool = False):
    """The genres as one noun phrase: "pop and rock song", "classical music piece", "ballad";
    "traditional music" stays a mass noun unless `countable` ("a traditional music piece")."""
    genres = facts["genre"]
    if not genres:
        return None
    text = join_words(genres)
    last = word_list(genres[-1])[-1]
    if last == "music":  # "traditional music" (no article), "traditional music piece"
        text += " piece" if noun.endswith("piece") or countable else ""
    elif last not in P.GENRE_NOUNS:
        text += " " + noun
    return [("genre", g) for g in genres], text, is_plural(text)


def _first(kind):
    return lambda facts: _items([(kind, facts[kind][0])]) if facts[kind] else None


def _all(*kinds):
    return lambda facts: _items([(k, x) for k in kinds for x in facts[k]])


def _items(items, text=None):
    """A field's value: the items it uses, its words, and whether they take a plural verb."""
    if not items:
        return None
    text = join_words([x for _, x in items]) if text is None else text
    return items, text, len(items) > 1 or is_plural(text)


def _few(field, n: int, *kinds):
    """`field` computed over only the first `n` items of `kinds` (the rest stay for later)."""
    def few(facts):
        return field({**facts, **{k: [] for k in kinds}, **_first_items(facts, kinds, n)})
    return few


def _first_items(facts, kinds, n):
    out, left = {}, n
    for k in kinds:
        out[k] = facts[k][:max(left, 0)]
        left -= len(out[k])
    return out


def _tempo_adj(facts):
    for t in facts["tempo"]:
        if t.endswith(" tempo"):
            return _items([("tempo", t)], t[:-len(" tempo")])
    return None


def _instrumental(facts):
    if facts["instrumental"]:
        return _items([("instrumental", x) for x in facts["instrumental"]], "instrumental")
    voice = {"vocals", "vocal", "voice", "voices", "singing"}
    vocal_negations = [x for x in facts["negation"] if set(word_list(x)) & voice]
    return _items([("negation", x) for x in vocal_negations], "instrumental")


def _qualities(facts):
    items = facts["quality"]
    if not items:
        return None
    text = join_words([("in " + x) if x in P.IN_QUALITIES else x for x in items])
    return _items([("quality", x) for x in items], text)


FIELDS = {
    "genre": _all("genre"),
    "genre_song": lambda f: _genre_noun(f, "song"),
    "genre_piece": lambda f: _genre_noun(f, "music piece"),
    "vocals": _all("vocal"),
    "instrumental": _instrumental,
    "lead": _first("instrument"),
    "instruments": _all("instrument"),
    "percussion": _all("percussion"),
    "band": _all("instrument", "percussion"),
    "negations": _all("negation"),
    "mood": _first("mood"),
    "moods": _all("mood"),
    "mood_nouns": _all("mood_noun"),
    "themes": _all("theme"),
    "tempo": _first("tempo"),
    "tempo_adj": _tempo_adj,
    "tempo_noun": lambda f: next((_items([("tempo", t)]) for t in f["tempo"]
                                  if word_list(t)[-1] in P.TEMPO_NOUNS), None),
    "quality": lambda f: _first("quality")(f) if f["quality"] and f["quality"][0] not in P.IN_QUALITIES else None,
    "qualities": _qualities,
    "audio_quality": _first("audio_quality"),
    "setting": _first("setting"),
    "others": _all("other"),
    "few_moods": _few(_all("mood"), 3, "mood"),
    "few_genres": _few(lambda f: _genre_noun(f, "song", countable=True), 2, "genre"),
    "few_vocals": _few(_all("vocal"), 2, "vocal"),
    "few_band": _few(_all("instrument", "percussion"), 4, "instrument", "percussion"),
    "bpm": _first("bpm"),
    "key": _first("key"),
    "meter": _first("meter"),
}


def render(frame: str, facts: dict) -> Optional[str]:
    """The frame filled from `facts` (whose used items are removed), or None if a field is empty."""
    left = {k: list(v) for k, v in facts.items()}
    resolved = {}
    for _, name in _FIELD.findall(frame):  # in order: "{lead} with {band}" -> the rest of the band
        if name in _VERBS:
            continue
        value = FIELDS[name](left)
        if value is None:
            return None
        resolved[name] = value
        for kind, item in value[0]:
            left[kind].remove(item)
    plural = False

    def fill(m):
        nonlocal plural
        mode, name = m.groups()
        if name in _VERBS:
            return _VERBS[name] if plural else name
        items, text, plural = resolved[name]
        if mode in ("a", "A"):  # a list: an article per item ("a man talking and female vocals")
            if plural and len(items) > 1:
                return join_words([with_article(x) for _, x in items])
            return text if plural else with_article(text)
        if mode == "is":  # a list agrees with its first item: "is a man talking and female vocals"
            if plural and len(items) > 1:
                first = items[0][1]
                return ("are " if is_plural(first) else "is ") + join_words([with_article(x) for _, x in items])
            return ("are " + text) if plural else ("is " + with_article(text))
        if mode == "the":
            return "the " + text
        if mode == "each":
            return join_words([x if is_plural(x) else with_article(x) for _, x in items])
        return text

    sentence = _SINGING.sub(r"\1", _FIELD.sub(fill, frame))
    sentence = _AN.sub(lambda m: f"{article(m.group(2)).replace('a', m.group(1), 1)} {m.group(2)}", sentence)
    facts.update(left)
    return sentence[:1].upper() + sentence[1:]


def write(plan, facts: dict, draw: str, offset: int = 0) -> list[str]:
    """The plan's sentences: per slot, the first alternative whose fields have items, and of its
    frames the one `draw` (seed and clip) picks, moved on by `offset` (each task its own, so the
    captions of a clip differ even where they share a slot)."""
    sentences = []
    for number, slot in enumerate(plan):
        for alternatives in slot:
            frame = alternatives[(_pick(f"{draw}\x1f{number}") + offset) % len(alternatives)]
            sentence = render(frame, facts)
            if sentence is not None:
                sentences.append(sentence)
                break
    return sentences


def _pick(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def describe(facts: dict, style: str, draw: str = "", offset: int = 0) -> str:
    """Every fact in `facts`, as sentences in `style` (then the catch-all sentences for the rest),
    or, for style "summary", the main ones in one or two sentences."""
    left = {k: list(v) for k, v in facts.items()}
    if style == "summary":  # clips with only facts the summary leaves out: the first of them
        text = " ".join(write(P.SUMMARY, left, draw + "s", offset) or write(P.CATCH_ALL, left, draw, offset)[:2])
    else:
        text = " ".join(write(P.STYLES[style], left, draw + style, offset) + write(P.CATCH_ALL, left, draw, offset))
    if len(text.split()) < MIN_WORDS:  # "It sounds happy." -> "The song feels happy."
        text = " ".join(write(P.CATCH_ALL, {k: list(v) for k, v in facts.items()}, draw, offset))
    return text


def said_tags(tags: Sequence[Tag]) -> list[Tag]:
    """The tags a caption may state: the input's own (score None) when it gave any; a tagger's
    (scored) only for music that came without tags, so a model never contradicts or pads a
    human's tags."""
    given = [t for t in tags if t.score is None]
    return given if given else list(tags)


def task_styles(tags: Sequence[Tag], model: dict | None = None) -> dict[str, str]:
    """The style each task is written in: writing the likeliest for these tags, paraphrase the
    next, attribute_prediction the third; summary its own."""
    ranked = style_model.rank_styles([t for t in tags if not t.origin.startswith(PREDICTED_ORIGIN)], model)
    return {"writing": ranked[0], "paraphrase": ranked[1], "attribute_prediction": ranked[2], "summary": "summary",
            FALLBACK_TASK: ranked[0]}


def write_captions(tags: Sequence[Tag], attributes: Sequence[Attribute] = (), *, key: str = "", seed: int = 0,
                   tasks: Sequence[str] = TASKS, min_confidence: float = 0.0,
                   model: dict | None = None) -> dict[str, str]:
    """{task: caption} for a clip's tags and attributes; {} when they say nothing."""
    tags = said_tags(tags)
    facts = clip_facts(tags, attributes, min_confidence)
    if not any(facts.values()):
        return {}
    styles = task_styles(tags, model)
    texts: dict[str, str] = {}
    for task in tasks:
        offset = TASKS.index(task) if task in TASKS else 0
        for attempt in range(4):  # a caption another task already has: draw the frames again
            text = describe(facts, styles[task], f"{seed}\x1f{key}" + "\x1f" * attempt, offset)
            if text not in texts.values() or task == FALLBACK_TASK:
                break
        if text:
            texts[task] = text
    return texts


def model_revision(path=style_model.MODEL_FILE) -> str:
    """Names the fitted style table a caption was written with (its sha256, 12 hex digits)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


class OfflineCaptioner(beam.DoFn):
    """Clip -> Clip with one offline caption per task (none for a clip with no tags or attributes).

    Provenance in each Caption: task, backend "template", prompt "offline-<task>" version 1
    ("offline-writing" for task "template"), the style table as model ("offline-style-model", its
    sha256 as revision) and the seed.
    """

    MODEL_ID = "offline-style-model"

    def __init__(self, settings: TemplateCaptions = TemplateCaptions()):
        self.tasks, self.seed = tuple(settings.tasks or TASKS), settings.seed
        self.min_confidence = settings.min_confidence
        self.model = self.revision = None

    def setup(self):
        self.model, self.revision = style_model.load(), model_revision()

    def process(self, clip: Clip):
        if self.model is None:
            self.setup()
        texts = write_captions(clip.tags, clip.attributes, key=clip.key, seed=self.seed, tasks=self.tasks,
                               min_confidence=self.min_confidence, model=self.model)
        captions = tuple(
            Caption(text=texts[task], task=task, backend=BACKEND,
                    prompt_id=PROMPT_PREFIX + (task if task in TASKS else "writing"),
                    prompt_version=PROMPT_VERSION, model_id=self.MODEL_ID, model_revision=self.revision,
                    seed=self.seed)
            for task in self.tasks if task in texts)
        yield dataclasses.replace(clip, captions=clip.captions + captions) if captions else clip
