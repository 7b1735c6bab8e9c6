"""Synthesises the example's input: a few short pieces of music, plus inputs that must be rejected.

Everything here is generated (no network, no third-party audio), so the example may be shared
freely. Deterministic: the same files every time. Writes examples/basic/audio/.
"""

from __future__ import annotations

import pathlib

import numpy as np
import soundfile as sf

RATE = 22050
HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "audio"

# name, seconds, bpm, root MIDI note, minor?, timbre (harmonic amplitudes), drums?
PIECES = [
    ("sunrise_piano", 24.0, 96, 60, False, (1.0, 0.5, 0.25, 0.12), False),
    ("night_drive", 18.0, 120, 57, True, (1.0, 0.8, 0.6, 0.4, 0.3), True),
    ("harbour_waltz", 14.0, 84, 65, False, (1.0, 0.3, 0.1), False),
    ("rain_study", 12.0, 72, 62, True, (1.0, 0.6, 0.2), False),
    ("city_groove", 21.0, 110, 55, False, (1.0, 0.9, 0.7, 0.5, 0.4, 0.3), True),
]


def note(freq: float, seconds: float, harmonics) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))
    return wave * np.exp(-3.0 * t / seconds) * np.minimum(1.0, t * 200)


def piece(seconds, bpm, root, minor, harmonics, drums, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE) + RATE)
    beat = 60.0 / bpm
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    chords = [0, 5, 3, 4]  # i/I - vi - iv/IV - v/V by scale degree
    for b in range(int(seconds / beat)):
        start = int(b * beat * RATE)
        degree = chords[(b // 4) % 4]
        if b % 2 == 0:  # chord every second beat
            for offset in (0, 2, 4):
                midi = root - 12 + scale[(degree + offset) % 7] + 12 * ((degree + offset) // 7)
                tone = note(440 * 2 ** ((midi - 69) / 12), 2 * beat, harmonics) * 0.12
                out[start:start + tone.size] += tone
        midi = root + scale[rng.integers(0, 7)] + 12 * rng.integers(0, 2)  # a melody note per beat
        tone = note(440 * 2 ** ((midi - 69) / 12), beat, harmonics) * 0.2
        out[start:start + tone.size] += tone
        if drums:
            kick = np.sin(2 * np.pi * 55 * np.arange(int(0.15 * RATE)) / RATE) * np.exp(-np.arange(int(0.15 * RATE)) / 600)
            out[start:start + kick.size] += 0.5 * kick
    out = out[: int(seconds * RATE)]
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for seed, (name, seconds, bpm, root, minor, harmonics, drums) in enumerate(PIECES):
        sf.write(OUT / f"{name}.flac", piece(seconds, bpm, root, minor, harmonics, drums, seed), RATE)
    sf.write(OUT / "room_tone.flac", np.zeros(8 * RATE, np.float32), RATE)  # silent: rejected
    (OUT / "not_really.mp3").write_text("this is a text file with an audio extension\n")  # rejected
    print(f"wrote {len(PIECES) + 2} files to {OUT}")


if __name__ == "__main__":
    main()
