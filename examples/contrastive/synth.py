"""Synthesises the contrastive example's input: short pieces in six styles, plus their manifest.

Each style has its own instrument (timbre and register), tempo, mode and percussion, and its own
tags, so the captions the build writes from those tags (and from the tempo and key it measures)
differ with what the audio sounds like. That is the structure a contrastive model can learn;
a loss that falls on it means audio and text were matched, not that one constant was memorised.

Deterministic: the same files every time. No network, no third-party audio.
"""

from __future__ import annotations

import csv
import pathlib

import numpy as np
import soundfile as sf

RATE = 16000
SECONDS = 8.0

# name: (tags, bpm, root MIDI note, minor?, harmonic amplitudes, attack s, percussion)
STYLES = {
    "piano": ("piano;calm;slow tempo", 68, 60, False, (1.0, 0.5, 0.25, 0.12), 0.005, None),
    "synth": ("synthesizer;electronic;drums;fast tempo", 128, 57, True,
              tuple(1.0 / k for k in range(1, 9)), 0.01, "kick"),
    "strings": ("strings;classical;happy", 90, 67, False, (1.0, 0.7, 0.5, 0.3, 0.2), 0.25, None),
    "bass": ("bass;funk;drums;energetic", 112, 40, False, (1.0, 0.9, 0.4), 0.01, "kick_hat"),
    "flute": ("flute;ambient;peaceful", 76, 79, True, (1.0, 0.1), 0.08, None),
    "organ": ("organ;church;dark", 60, 48, True, (1.0, 1.0, 0.8, 0.8, 0.6, 0.6), 0.05, None),
}
PER_STYLE = 4


def note(freq: float, seconds: float, harmonics, attack: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics) if freq * (k + 1) < RATE / 2)
    return wave * np.minimum(1.0, t / attack) * np.exp(-2.0 * t / seconds)


def percussion(kind: str, rng) -> dict[str, np.ndarray]:
    n = int(0.15 * RATE)
    t = np.arange(n) / RATE
    hits = {"kick": np.sin(2 * np.pi * 55 * t * (1 - t)) * np.exp(-t * 30)}
    if kind == "kick_hat":
        hits["hat"] = rng.standard_normal(n // 3) * np.exp(-np.arange(n // 3) / 150) * 0.3
    return hits


def piece(style: str, variant: int) -> np.ndarray:
    _, bpm, root, minor, harmonics, attack, drums = STYLES[style]
    rng = np.random.default_rng(hash_seed(style, variant))
    root += int(rng.integers(-2, 3))  # a few keys per style
    bpm *= 1 + 0.03 * rng.standard_normal()
    out = np.zeros(int((SECONDS + 6) * RATE))  # room for the last notes to ring
    beat = 60.0 / bpm
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    hits = percussion(drums, rng) if drums else {}
    for b in range(int(SECONDS / beat)):
        start = int(b * beat * RATE)
        midi = root + scale[rng.integers(0, 7)] + 12 * int(rng.integers(0, 2))
        tone = note(440 * 2 ** ((midi - 69) / 12), 1.5 * beat, harmonics, attack) * 0.3
        out[start:start + tone.size] += tone
        if b % 4 == 0:  # a chord (root, third, fifth) under every bar
            for step in (0, 2, 4):
                midi = root - 12 + scale[step]
                tone = note(440 * 2 ** ((midi - 69) / 12), 4 * beat, harmonics, attack) * 0.12
                out[start:start + tone.size] += tone
        if "kick" in hits and b % 2 == 0:
            out[start:start + hits["kick"].size] += 0.6 * hits["kick"]
        if "hat" in hits:
            half = start + int(beat * RATE / 2)
            out[half:half + hits["hat"].size] += hits["hat"]
    out = out[: int(SECONDS * RATE)]
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def hash_seed(style: str, variant: int) -> int:
    return sum(ord(c) * 31 ** i for i, c in enumerate(style)) % 2**31 + variant


def write_inputs(folder, per_style: int = PER_STYLE) -> pathlib.Path:
    """Writes <folder>/audio/*.flac and <folder>/manifest.csv; returns the manifest's path."""
    folder = pathlib.Path(folder)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for style, (tags, *_) in STYLES.items():
        for variant in range(per_style):
            name = f"{style}_{variant}"
            sf.write(folder / "audio" / f"{name}.flac", piece(style, variant), RATE)
            # one artist per piece, so the split spreads every style over train/valid/test
            rows.append({"path": f"audio/{name}.flac", "id": name, "artist": f"artist-{name}",
                         "tags": tags, "licence": "CC0-1.0"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
