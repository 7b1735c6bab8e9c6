"""The caption rules: cheap threshold decisions over the stats stored on each caption.

Each rule looks only at stored stats (Caption.stats, Clip.stats, tags, attributes), never at text
or audio, so new thresholds apply to an existing corpus without recomputing (`tunescribe filter`).
`caption_failures` returns every failed rule as (reason, detail): reasons are stable snake_case
codes, details quote the stored evidence ("findings").
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from tunescribe.schemas import Caption, Clip
from tunescribe.transforms.quality import lexicon
from tunescribe.transforms.quality.consistency import key_of_attribute, keys_agree


@dataclasses.dataclass(frozen=True)
class CaptionRules:
    """Thresholds of the caption rules; None switches a rule off. Defaults tuned on the MusicCaps
    train split (tests/transforms/quality/test_rules.py measures them)."""

    min_words: int = 4
    max_words: int = 250
    languages: tuple[str, ...] = ("en",)
    min_language_prob: float = 0.4  # wrong language when py3langid gives another one at least this
    max_repetition: Optional[float] = 0.2  # share of repeated word 3-grams
    max_longest_run: Optional[int] = 3  # one word or phrase repeated back to back
    max_refusals: Optional[int] = 0
    max_meta_text: Optional[int] = 0
    max_probability_leaks: Optional[int] = 0
    max_label_leaks: Optional[int] = 0
    max_title_leaks: Optional[int] = 0
    max_task_talk: Optional[int] = 0  # "The song description sentence is: ...", the prompt's words echoed
    max_story_claims: Optional[int] = 0  # "a tribute to the legendary ...", "written by a local musician"
    max_invented_names: Optional[int] = 0  # capitalised names the tags do not hold
    max_tag_list_run: Optional[int] = 5  # longest comma-separated run of the tags' own words
    max_tag_list_share: Optional[float] = 0.9  # share of words in such runs (of 3 or more segments)
    reject_non_music: bool = True  # names non-music content and nothing musical
    max_unsupported_instruments: Optional[int] = 0
    # Captions of these backends are written from the tags alone (the model never heard the
    # audio): an instrument, genre or mood the tags do not support is invented, and a bare list of
    # the tags is no description. Human, template and audio captions are exempt from these two.
    from_tags_backends: tuple[str, ...] = ("transformers", "openai")
    max_unsupported_attributes: Optional[int] = 0
    # Voice claims contradict a clip whose measured voice share (first of `voice_stats` present in
    # Clip.stats) is at most max_voice_share, or, without such a stat, whose tags say instrumental.
    voice_stats: tuple[str, ...] = ("vocal_ratio", "singing_ratio", "speech_ratio")
    max_voice_share: Optional[float] = 0.02
    tempo_attribute: str = "tempo"  # Clip.attributes name holding the measured bpm in `number`
    tempo_tolerance: Optional[float] = 0.08  # relative; half and double tempo also agree
    slow_max_bpm: float = 95.0  # a "fast" caption contradicts a measured tempo below this...
    fast_min_bpm: float = 115.0  # ... and a "slow" one a tempo above this (either octave)
    key_attribute: str = "key"  # Clip.attributes name holding the measured key in `value`
    key_allow_relative: Optional[bool] = True  # None: no key check
    min_clap: Optional[float] = None  # absolute audio-text similarity floor
    clap_margin: Optional[float] = 0.0  # relative rule: clap >= clap of the plain tag string - margin


def _attribute(clip: Clip, name: str):
    return next((a for a in clip.attributes if a.name == name), None)


def voice_evidence(clip: Clip, rules: CaptionRules) -> Optional[str]:
    """Why the clip is taken to have no voice ("stat"/"tags"), or None when it may have one."""
    for name in rules.voice_stats:
        if clip.stats.get(name) is not None:
            if rules.max_voice_share is not None and clip.stats[name] <= rules.max_voice_share:
                return f"{name} {clip.stats[name]:.3f} <= {rules.max_voice_share}"
            return None
    tags = " ; ".join(t.name for t in clip.tags)
    if lexicon.INSTRUMENTAL_TAGS.search(tags) and not lexicon.VOCAL_TAG_WORDS.search(
            lexicon.INSTRUMENTAL_TAGS.sub("", tags)):
        return "tags say instrumental"
    return None


def _tempo_agrees(claimed: float, measured: float, tolerance: float) -> bool:
    return any(abs(claimed - measured * k) <= tolerance * measured * k for k in (0.5, 1.0, 2.0))


def caption_failures(caption: Caption, clip: Clip, rules: CaptionRules) -> list[tuple[str, str]]:
    """Every rule the caption fails, as (reason, detail); empty when it passes."""
    s = caption.stats
    findings = list(s.get("findings") or ())
    quote = lambda kind: ", ".join(f.split(": ", 1)[1] for f in findings if f.startswith(kind + ":"))  # noqa: E731
    out = []
    n = s.get("n_words")
    if n is not None and n < rules.min_words:
        out.append(("caption_too_short", f"{n:.0f} words < min_words {rules.min_words}"))
    if n is not None and n > rules.max_words:
        out.append(("caption_too_long", f"{n:.0f} words > max_words {rules.max_words}"))
    lang, prob = s.get("language"), s.get("language_prob")
    if rules.languages and lang and lang not in rules.languages and (prob or 0) >= rules.min_language_prob:
        out.append(("wrong_language", f"{lang} (p={prob:.2f}), expected {'/'.join(rules.languages)}"))
    if rules.max_repetition is not None and (s.get("repetition") or 0) > rules.max_repetition:
        out.append(("repetition_loop", f"repetition {s['repetition']:.2f} > {rules.max_repetition}"))
    elif rules.max_longest_run is not None and (s.get("longest_run") or 0) > rules.max_longest_run:
        out.append(("repetition_loop", f"a phrase repeated {s['longest_run']:.0f} times in a row"))
    for stat, limit, reason, kind in (
        ("refusals", rules.max_refusals, "refusal", "refusal"),
        ("meta_text", rules.max_meta_text, "meta_text", "meta_text"),
        ("task_talk", rules.max_task_talk, "task_talk", "task_talk"),
        ("probability_leaks", rules.max_probability_leaks, "leaked_probability", "probability"),
        ("label_leaks", rules.max_label_leaks, "leaked_label", "label"),
    ):
        if limit is not None and (s.get(stat) or 0) > limit:
            out.append((reason, f"{stat} {s[stat]:.0f} > {limit}: {quote(kind)}"))
    if rules.max_title_leaks is not None and (s.get("title_leaks") or 0) > rules.max_title_leaks:
        out.append(("leaked_title", f"names the piece: {', '.join(filter(None, (quote('title'), quote('name'))))}"))
    if rules.max_invented_names is not None and (s.get("invented_names") or 0) > rules.max_invented_names:
        out.append(("invented_name", f"names no tag holds: {quote('invented_name')}"))
    if rules.max_story_claims is not None and (s.get("story_claims") or 0) > rules.max_story_claims:
        out.append(("invented_story", f"tells a story the tags cannot: {quote('story')}"))
    # Template captions are the tags put in sentences by design, and people list what they hear:
    # a list of tags is a failure only of a model asked to describe them.
    from_tags = caption.backend in rules.from_tags_backends
    if from_tags and rules.max_tag_list_run is not None and (s.get("tag_list_run") or 0) > rules.max_tag_list_run:
        out.append(("tag_list", f"lists {s['tag_list_run']:.0f} tags in a row instead of describing "
                                f"(max_tag_list_run {rules.max_tag_list_run})"))
    elif from_tags and rules.max_tag_list_share is not None and (s.get("tag_list_run") or 0) >= 3 and \
            (s.get("tag_list_share") or 0) > rules.max_tag_list_share:
        out.append(("tag_list", f"{100 * s['tag_list_share']:.0f}% of its words are its tags, listed "
                                f"(max_tag_list_share {rules.max_tag_list_share})"))
    if rules.reject_non_music and s.get("music_terms") == 0 and (s.get("non_music_terms") or 0) > 0:
        out.append(("non_music_content", f"describes no music, only: {quote('non_music')}"))
    if rules.max_unsupported_instruments is not None and \
            (s.get("unsupported_instruments") or 0) > rules.max_unsupported_instruments:
        out.append(("hallucinated_instrument", f"not in the tags or attributes: {quote('unsupported_instrument')}"))
    if rules.max_unsupported_attributes is not None and from_tags and \
            (s.get("unsupported_attributes") or 0) > rules.max_unsupported_attributes:
        out.append(("unsupported_attribute", f"written from tags that do not name: {quote('unsupported_attribute')}"))
    out += _contradictions(s, clip, rules, quote)
    out += _audio_text(s, clip, rules)
    return out


def _contradictions(s: dict, clip: Clip, rules: CaptionRules, quote) -> list[tuple[str, str]]:
    out = []
    no_voice = voice_evidence(clip, rules)
    if no_voice:
        # Measured silence of voices contradicts speech too; an "instrumental" tag only singing.
        claims = (s.get("singing_claims") or 0) + ((s.get("speech_claims") or 0) if "<=" in no_voice else 0)
        if claims > 0:
            said = ", ".join(filter(None, (quote("singing"), quote("speech") if "<=" in no_voice else "")))
            out.append(("vocals_on_instrumental", f"claims {said} but {no_voice}"))
    tempo = _attribute(clip, rules.tempo_attribute)
    if rules.tempo_tolerance is not None and tempo is not None and tempo.number:
        bpm, cls = s.get("tempo_bpm"), s.get("tempo_class")
        if bpm is not None and not _tempo_agrees(bpm, tempo.number, rules.tempo_tolerance):
            out.append(("tempo_mismatch", f"says {bpm:g} bpm, measured {tempo.number:.1f}"))
        elif cls == 1 and tempo.number * 2 < rules.slow_max_bpm:
            out.append(("tempo_mismatch", f"says fast, measured {tempo.number:.1f} bpm"))
        elif cls == -1 and tempo.number / 2 > rules.fast_min_bpm:
            out.append(("tempo_mismatch", f"says slow, measured {tempo.number:.1f} bpm"))
    key = _attribute(clip, rules.key_attribute)
    measured = key_of_attribute(key.value) if key is not None else None
    if rules.key_allow_relative is not None and measured and s.get("key"):
        if not keys_agree(s["key"], measured, rules.key_allow_relative):
            out.append(("key_mismatch", f"says key {s['key']}, measured {key.value} ({measured}) [pitch class 0=C]"))
    return out


def _audio_text(s: dict, clip: Clip, rules: CaptionRules) -> list[tuple[str, str]]:
    score, tag_score = s.get("clap"), clip.stats.get("clap_tags")
    out = []
    if score is None:
        return out
    if rules.min_clap is not None and score < rules.min_clap:
        out.append(("low_audio_text_score", f"clap {score:.3f} < min_clap {rules.min_clap}"))
    if rules.clap_margin is not None and tag_score is not None and score < tag_score - rules.clap_margin:
        out.append(("below_tag_score", f"clap {score:.3f} < tag string's {tag_score:.3f} - margin {rules.clap_margin}"))
    return out
