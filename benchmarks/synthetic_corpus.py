"""The input the build benchmarks share: synthetic music (examples/basic/make_audio.py's generator:
chords, melody, drums), one FLAC per track, listed in a CSV manifest with artist and tags, and a
config that cuts 10 s clips (default stages, no model captioners)."""

from __future__ import annotations

import csv
import importlib.util
import pathlib

import soundfile as sf

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG = """
name: bench
output: corpus
inputs:
  - type: manifest
    path: manifest.csv
    columns: {{path: path, id: id, artist: artist, tags: tags, tag_separator: ";"}}
segment: {{window_s: 10}}
shards: {{max_samples: {max_samples}}}
"""
TAGS = ["piano;ambient;calm", "electronic;synthesizer;drums;dark", "classical;strings;happy", "funk;bass;drums"]


def make_input(folder: pathlib.Path, tracks: int, seconds: float, max_samples: int = 64) -> pathlib.Path:
    """Writes `tracks` pieces of `seconds` each under folder/audio, the manifest and config.yaml;
    returns the config's path."""
    spec = importlib.util.spec_from_file_location("make_audio", REPO / "examples" / "basic" / "make_audio.py")
    music = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(music)
    (folder / "audio").mkdir(parents=True)
    with open(folder / "manifest.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["path", "id", "artist", "tags"])
        for n in range(tracks):
            _, _, bpm, root, minor, harmonics, drums = music.PIECES[n % len(music.PIECES)]
            audio = music.piece(seconds, bpm + n, root + n % 5, minor, harmonics, drums, seed=n)
            sf.write(folder / "audio" / f"t{n:04d}.flac", audio, music.RATE)
            rows.writerow([f"audio/t{n:04d}.flac", f"t{n:04d}", f"artist-{n % 7}", TAGS[n % len(TAGS)]])
    (folder / "config.yaml").write_text(CONFIG.format(max_samples=max_samples))
    return folder / "config.yaml"
