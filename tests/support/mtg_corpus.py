"""A small corpus from the MTG-Jamendo validation manifest's ids, with synthetic audio.

The manifest rows are MTG-Jamendo's own (track, artist, album, tags; the `mtg-jamendo` preset
reads them); the audio is made up: a chord per track, 2.1 s at 16 kHz, so each track gives two
1 s clips. A few rows are made to fail in known ways, and a second input holds one clip whose
human caption and tag carry markup, for the HTML report's escaping.
"""

from __future__ import annotations

import csv
import hashlib
import json
import pathlib
import subprocess
import sys
import types

import numpy as np
import soundfile as sf

RATE = 16000
SECONDS = 2.1
MARKUP = "<script>alert(\"pwned\")</script> & <b>bold</b>"


def pick_rows(tsv: pathlib.Path, n_artists: int, per_artist: int) -> list[list[str]]:
    """The first `n_artists` artists (in file order) with at least `per_artist` tracks, and
    that many tracks of each: artists with several tracks are what a leaky split would cut."""
    by_artist: dict[str, list[list[str]]] = {}
    with open(tsv, newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        for row in reader:
            by_artist.setdefault(row[1], []).append(row)
    chosen = [a for a, rows in by_artist.items() if len(rows) >= per_artist][:n_artists]
    return [header] + [row for a in chosen for row in by_artist[a][:per_artist]]


def tone(seed: str, seconds: float = SECONDS, amp: float = 0.3) -> np.ndarray:
    h = int(hashlib.sha1(seed.encode()).hexdigest()[:8], 16)
    t = np.arange(int(seconds * RATE)) / RATE
    freqs = [110 * 2 ** ((h >> s) % 24 / 12) for s in (0, 5, 10)]
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3
    noise = np.random.default_rng(h).standard_normal(t.size) * 0.05 * amp
    return (amp * x + noise).astype(np.float32)


def write_inputs(root: pathlib.Path, tsv: pathlib.Path, n_artists: int = 40, per_artist: int = 4,
                 extra_config: str = "") -> pathlib.Path:
    """Writes audio, manifests and config.yaml under `root`; returns the config's path.

    Planted outcomes: the first track's audio is missing (missing_file: retried on rerun), the
    second's is not audio (not_audio), the third is silent (too_silent clips), one artist's first
    track is on split.force_test, one track on split.exclude."""
    rows = pick_rows(tsv, n_artists, per_artist)
    header, body = rows[0], rows[1:]
    audio = root / "audio"
    for n, row in enumerate(body):
        row[3] = row[3].rsplit(".", 1)[0] + ".flac"  # PATH: same layout as MTG-Jamendo, our audio
        path = audio / row[3]
        path.parent.mkdir(parents=True, exist_ok=True)
        if n == 0:
            continue  # missing
        if n == 1:
            path.write_text("not audio at all\n" * 40)
        else:
            sf.write(path, tone(row[0], amp=0.0 if n == 2 else 0.3), RATE, format="FLAC")
    with open(root / "validation.tsv", "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    sf.write(audio / "markup.flac", tone("markup"), RATE, format="FLAC")
    (root / "markup.jsonl").write_text(json.dumps({
        "file": "audio/markup.flac", "id": "markup-1", "artist": "artist_markup",
        "caption": MARKUP, "tags": ["piano", MARKUP]}) + "\n")
    forced_artist = body[8][1]
    (root / "heldout.txt").write_text(f"# evaluation tracks\n{body[8][0]}\n")
    (root / "config.yaml").write_text(f"""\
name: mtg
output: corpus
inputs:
  - type: manifest
    path: validation.tsv
    preset: mtg-jamendo
    audio_root: audio
    licence: CC BY-NC-SA 4.0
  - type: manifest
    path: markup.jsonl
    columns: {{path: file, id: id, artist: artist, captions: [caption], tags: [tags]}}
    licence: CC-BY-4.0
audio: {{sample_rate: {RATE}}}
segment: {{window_s: 1.0, min_tail_s: 0.5}}
stats: {{speech: false}}
attributes: {{extractors: []}}
quality: {{min_duration_s: 0.5, captions: {{min_words: 1}}}}
split:
  ratios: {{train: 0.7, valid: 0.15, test: 0.15}}
  force_test: {{track_id: heldout.txt}}
  exclude: {{track_id: [{body[12][0]}]}}
shards: {{max_samples: 24}}
{extra_config}""")
    (root / "forced_artist.txt").write_text(forced_artist)
    return root / "config.yaml"


def tree(root: pathlib.Path) -> dict[str, bytes]:
    """Every file under root (hidden ones too), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def build_command(config: pathlib.Path, output: pathlib.Path | None = None) -> list[str]:
    """`tunescribe build CONFIG` as a real subprocess (the installed CLI's own module)."""
    cmd = [sys.executable, "-m", "tunescribe.pipelines.cli", "build", str(config)]
    return cmd + (["--output", str(output)] if output else [])


def build(config: pathlib.Path, output: pathlib.Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(build_command(config, output), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def build_mtg_corpus(tsv: pathlib.Path, root: pathlib.Path) -> types.SimpleNamespace:
    config = write_inputs(root, tsv)
    done = build(config)
    return types.SimpleNamespace(root=root, config=config, corpus=root / "corpus", log=done.stderr)
