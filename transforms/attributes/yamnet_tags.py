"""YAMNet tags: clips -> RunInference(YamnetHandler) -> clips with a few scored music tags.

What the stage decides per clip, from the handler's per-patch scores (transforms/models/yamnet.py)
and, for drums, from the clip's own signal. Pooling: the mean of each class's sigmoid score over the
clip's patches (0.96 s every 0.48 s); a family's score is the highest pooled score of its classes.

- Silence: pooled "Silence" >= 0.5 -> tag "silence" (quality) and nothing else.
- Speech: pooled "Speech" >= 0.5 and above "Music" -> tag "speech" and nothing else.
- Instrument: one family at most, by rank, not by a fixed threshold. YAMNet's quantised output moves
  in logit steps of 0.76 and, in dense mixes, puts nearly all the score on "Music" (instrument
  classes at 0.001-0.05), so a threshold is coarse; the top family is named when its score reaches
  FAMILY_FLOOR and beats the runner-up's by FAMILY_MARGIN. Families YAMNet ranked no better than chance on rendered GM ensembles (woodwinds,
  bass) are never named; piano, often confused with organ and synth in mixes, only when it alone is
  clear (PIANO_FLOOR, which a solo piano passes). Fitted on the seed-1 renders and seed 2 of the current
  generator (benchmarks/tagger.py): top family right 0.79 and 0.81 there, 0.85 on the earlier generator's
  seed 2, against 0.58 for plain top-1 over all families.
- Drums: YAMNet alone misses drums in mixes (its drum classes separate drums from none at 0.62 on
  the renders). A logistic model on three log-measures decides: the share of percussive energy after
  median-filter harmonic/percussive separation (16 kHz, 512-point frames every 20 ms, 17-wide
  filters), the 8-12 kHz spectral flux relative to the clip's energy (hi-hats and snares), and
  YAMNet's best drum class. Fitted on the renders of seed 1 ("e1") and seed 2 of the current generator
  ("g2s2"): measured on other seeds in benchmarks/tagger.py (README "YAMNet tagger"). The
  8-12 kHz band needs a clip rate of at least 24 kHz; below that drums go unsaid.
- Vocals and genre: only when YAMNet is sure (pooled >= SURE): rendered choirs score near zero, so
  on such music the tagger stays silent rather than say "instrumental" or guess a genre.

Every tag has its score (the pooled score; for drums the logistic probability) and, as origin, the
model id and revision (`yamnet-0.2.1@<sha256 of the model files>`). A batch whose inference fails
sends its clips to the rejects table (stage "tagging", reason "inference_failed"), as TagAudio does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
import scipy.ndimage as nd
from apache_beam.ml.inference.base import PredictionResult

from tunescribe.schemas import Tag
from tunescribe.transforms.attributes.extract import mono_at
from tunescribe.transforms.attributes.tagging import TagAudio
from tunescribe.transforms.ingest.vocabulary import categorise
from tunescribe.transforms.models.yamnet import PatchScores

# family -> (tag name, YAMNet classes)
FAMILIES = {
    "organ": ("organ", ("Organ", "Electronic organ", "Hammond organ")),
    "guitar": ("guitar", ("Guitar", "Electric guitar", "Acoustic guitar", "Plucked string instrument", "Strum")),
    "synth": ("synthesizer", ("Synthesizer", "Sampler")),
    "brass": ("brass", ("Brass instrument", "French horn", "Trumpet", "Trombone")),
    "strings": ("strings", ("Bowed string instrument", "String section", "Violin, fiddle", "Cello")),
    "piano": ("piano", ("Piano", "Electric piano")),
}
FAMILY_FLOOR = 0.03
FAMILY_MARGIN = 1.5  # the top family's score over the runner-up's
PIANO_FLOOR = 0.1
SURE = 0.5
VOCALS = {"Singing": "vocals", "Choir": "choir", "Male singing": "male vocals", "Female singing": "female vocals",
          "Rapping": "rap vocals", "Humming": "humming"}
GENRES = {"Pop music": "pop", "Rock music": "rock", "Jazz": "jazz", "Classical music": "classical",
          "Electronic music": "electronic", "Hip hop music": "hip hop", "Country": "country", "Blues": "blues",
          "Reggae": "reggae", "Funk": "funk", "Disco": "disco", "Techno": "techno", "House music": "house",
          "Ambient music": "ambient", "Folk music": "folk", "Heavy metal": "heavy metal", "Soul music": "soul",
          "Video game music": "video game music", "Opera": "opera"}
DRUM_CLASSES = ("Drum kit", "Drum machine", "Drum", "Snare drum", "Percussion", "Cymbal", "Hi-hat", "Bass drum")
# log(percussive share), log(8-12 kHz flux share), log(YAMNet drum score + 1e-4): logistic weights, bias
DRUM_WEIGHTS = (4.179, 2.084, 0.906)
DRUM_BIAS = 35.481
HIGH_BAND = (8000.0, 12000.0)


def pooled(prediction: PatchScores) -> dict[str, float]:
    """Each class's mean score over the clip's patches."""
    mean = np.asarray(prediction.scores, dtype=np.float64).mean(axis=0)
    return dict(zip(prediction.labels, mean.tolist()))


def percussive_share(mono16k: np.ndarray) -> float:
    """Share of the energy a median-filter harmonic/percussive split gives to the percussive part."""
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(mono16k, np.float32), 512)[::320]
    if not len(frames):
        return 0.0
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(512).astype(np.float32), n=512)).T
    harmonic = nd.median_filter(spectrum, size=(1, 17), mode="reflect")
    percussive = nd.median_filter(spectrum, size=(17, 1), mode="reflect")
    mask = percussive ** 2 / (harmonic ** 2 + percussive ** 2 + 1e-12)
    return float(((spectrum * mask) ** 2).sum() / ((spectrum ** 2).sum() + 1e-12))


def high_band_flux(mono: np.ndarray, rate: int) -> Optional[float]:
    """Mean positive spectral flux in 8-12 kHz over the mean frame energy; None below 24 kHz."""
    if rate < 2 * HIGH_BAND[1]:
        return None
    n_fft = 1024 * max(1, round(rate / 48000))
    hop = n_fft // 4
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(mono, np.float32), n_fft)[::hop]
    if len(frames) < 2:
        return None
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), n=n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    band = power[:, (freqs >= HIGH_BAND[0]) & (freqs <= HIGH_BAND[1])]
    flux = np.maximum(0.0, np.diff(band, axis=0)).sum(axis=1)
    return float(flux.mean() / (power.sum(axis=1).mean() + 1e-12))


def drum_probability(percussive: float, flux: Optional[float], yamnet_drums: float) -> Optional[float]:
    if flux is None:
        return None
    z = (DRUM_BIAS + DRUM_WEIGHTS[0] * math.log(percussive + 1e-9) + DRUM_WEIGHTS[1] * math.log(flux + 1e-9)
         + DRUM_WEIGHTS[2] * math.log(yamnet_drums + 1e-4))
    return 1.0 / (1.0 + math.exp(-z))


def decide(scores: dict[str, float], drums: Optional[float]) -> list[tuple[str, float]]:
    """(tag, score) the clip gets, from pooled class scores and the drum probability (see the docstring)."""
    if scores.get("Silence", 0.0) >= SURE:
        return [("silence", scores["Silence"])]
    if scores.get("Speech", 0.0) >= SURE and scores["Speech"] > scores.get("Music", 0.0):
        return [("speech", scores["Speech"])]
    tags: list[tuple[str, float]] = []
    family = {f: max(scores.get(c, 0.0) for c in classes) for f, (_, classes) in FAMILIES.items()}
    top, runner_up = sorted(family, key=family.get, reverse=True)[:2]
    if (family[top] >= (PIANO_FLOOR if top == "piano" else FAMILY_FLOOR)
            and family[top] >= FAMILY_MARGIN * family[runner_up]):
        tags.append((FAMILIES[top][0], family[top]))
    if drums is not None and drums >= 0.5:
        tags.append(("drums", drums))
    for table in (VOCALS, GENRES):
        best = max(table, key=lambda c: scores.get(c, 0.0))
        if scores.get(best, 0.0) >= SURE:
            tags.append((table[best], scores[best]))
    return tags


def clip_tags(example, prediction: PatchScores) -> list[tuple[str, float]]:
    """The tags of one clip: its PCM (`example.samples`) and the model's patch scores."""
    scores = pooled(prediction)
    mono = mono_at(example, example.sample_rate)
    yamnet_drums = max(scores.get(c, 0.0) for c in DRUM_CLASSES)
    drums = drum_probability(percussive_share(mono_at(example, 16000)), high_band_flux(mono, example.sample_rate),
                             yamnet_drums)
    return decide(scores, drums)


def _attach(result: PredictionResult):
    clip = result.example
    seen = {(t.name, t.origin) for t in clip.tags}
    added = []
    for name, score in clip_tags(clip, result.inference):
        canonical, category = categorise(name)
        if (canonical, result.model_id) not in seen:
            added.append(Tag(name=canonical, category=category, origin=result.model_id, score=round(score, 6)))
    return dataclasses.replace(clip, tags=tuple(clip.tags) + tuple(added))


class TagWithYamnet(TagAudio):
    """clips (with their PCM) -> (clips with YAMNet's tags added, rejects): TagAudio's steps and failure
    path, with YAMNet's pooling and ranking."""

    attach = staticmethod(_attach)
