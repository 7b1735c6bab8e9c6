"""Prompts as versioned, named templates, and the clip facts they are filled with.

The four LP-MusicCaps tasks keep the paper's instructions word for word (typos included, from
lpmc/llm_captioning/generate.py), including its singular/plural wording and its
`f"{instruction} \\n {tags}"` layout, so captions are comparable with LP-MusicCaps'. A template
never changes once released: a new wording is a new version, and every caption records the
id and version of the template that asked for it.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from tunescribe.schemas import Attribute, Clip

# Tags this stage added from an LLM's answer (attribute prediction) carry this origin prefix;
# they are never fed back into prompts as if they were facts about the clip.
# The four caption tasks of LP-MusicCaps (Doh et al. 2023): the model prompts below and the
# offline captioner (offline.py) write each under its name.
LP_MUSICCAPS_TASKS = ("writing", "summary", "paraphrase", "attribute_prediction")
PREDICTED_ORIGIN = "llm:"


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: str
    task: str  # what the caption is, stored in Caption.task
    singular: str  # instruction when the clip has one input phrase
    plural: str  # ... when it has several
    output: str = "text"  # how the answer is read: "text", "attribute_prediction", "key_facts"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def render(self, phrases: list[str]) -> tuple[tuple[str, str], ...]:
        """The chat for a clip described by `phrases` (LP-MusicCaps: one user turn)."""
        instruction = self.singular if len(phrases) == 1 else self.plural
        return (("user", f"{instruction} \n {', '.join(phrases)}"),)


@dataclasses.dataclass(frozen=True)
class AudioPrompt:
    """What an audio captioner is asked; `instruction` None for models that take no text."""

    id: str
    version: str
    task: str
    instruction: Optional[str]

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


_LPMC = "write a song description sentence including the following"
_NO_NAMES = " Don't write artist name or album name."
_KEY_FACTS = ('Answer with only a JSON object with the keys "genre", "instruments", "mood" (lists of '
              'strings), "tempo", "key", "vocals" and "description" (strings or null), for a song with the ')

TEXT_PROMPTS: tuple[PromptTemplate, ...] = (
    PromptTemplate("lpmc-writing", "1", "writing", f"{_LPMC} single attribute.", f"{_LPMC} attributes."),
    PromptTemplate(
        "lpmc-summary", "1", "summary",
        "write a single sentence that summarize a song with the following single attribute." + _NO_NAMES,
        "write a single sentence that summarize a song with the following attributes." + _NO_NAMES),
    PromptTemplate(
        "lpmc-paraphrase", "1", "paraphrase",
        f"{_LPMC} single attribute. paraphraze paraphrasing is acceptable.",
        f"{_LPMC} attributes. paraphraze paraphrasing is acceptable."),
    PromptTemplate(
        "lpmc-attribute_prediction", "1", "attribute_prediction",
        "write the answer as a python dictionary with new_attribute and description as keys. for new_attribute, "
        "write new attributes with high co-occurrence with the following single attribute. for description, "
        "write a song description sentence including the single attribute and new attribute.",
        "write the answer as a python dictionary with new_attribute and description as keys. for new_attribute, "
        "write new attributes with high co-occurrence with the following attributes. for description, "
        "write a song description sentence including the following attributes and new attributes.",
        output="attribute_prediction"),
    PromptTemplate(
        "short", "1", "short",
        "write a short caption of at most 12 words for a song with the following single attribute." + _NO_NAMES,
        "write a short caption of at most 12 words for a song with the following attributes." + _NO_NAMES),
    PromptTemplate("key-facts", "1", "key_facts", _KEY_FACTS + "following single attribute.",
                   _KEY_FACTS + "following attributes.", output="key_facts"),
)

AUDIO_PROMPTS: tuple[AudioPrompt, ...] = (
    AudioPrompt("audio-describe", "1", "audio_caption",
                "Describe this music in one or two sentences: genre, instruments, mood, tempo and vocals."),
    AudioPrompt("audio-direct", "1", "audio_caption", None),  # encoder-decoders: the audio is the prompt
)

_BY_REF = {p.ref: p for p in (*TEXT_PROMPTS, *AUDIO_PROMPTS)}
_BY_REF.update({f"{p.task}@{p.version}": p for p in TEXT_PROMPTS})
_LATEST: dict[str, PromptTemplate | AudioPrompt] = {}
for _p in (*TEXT_PROMPTS, *AUDIO_PROMPTS):
    for _name in (_p.id, _p.task):
        if _name not in _LATEST or int(_p.version) > int(_LATEST[_name].version):
            _LATEST[_name] = _p
# A task name stands for its default template (tasks may have several templates).
_LATEST["audio_caption"] = _BY_REF["audio-describe@1"]


def get_prompt(name: str):
    """A template by `id@version` or `task@version`, by `id` (its latest version) or by task name
    (its default template's latest version). Raises ValueError naming the known ones."""
    prompt = _BY_REF.get(name) or _LATEST.get(name)
    if prompt is None:
        known = sorted({p.task for p in TEXT_PROMPTS} | {p.ref for p in _BY_REF.values()})
        raise ValueError(f"unknown prompt {name!r}; known: {', '.join(known)}")
    return prompt


def attribute_phrase(a: Attribute) -> Optional[str]:
    """A measured attribute as words a language model reads: "92 bpm", "F# minor key"."""
    if a.value:
        return a.value if a.name.lower() in a.value.lower() else f"{a.value} {a.name}"
    if a.number is None:
        return None
    if a.name.lower() in ("tempo", "bpm"):
        return f"{a.number:.0f} bpm"
    return f"{a.name} {a.number:.3g}"


def prompt_inputs(clip: Clip) -> list[str]:
    """What the prompts say about a clip: its tags (as given, first-seen order) and then its
    measured attributes. Tags an LLM predicted are left out."""
    phrases: list[str] = []
    for tag in clip.tags:
        if not tag.origin.startswith(PREDICTED_ORIGIN) and tag.name not in phrases:
            phrases.append(tag.name)
    for attribute in clip.attributes or ():
        phrase = attribute_phrase(attribute)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases
