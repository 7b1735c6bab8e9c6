#!/usr/bin/env python3
"""Multi-instrument General MIDI ensembles with known truth, for the tempo and tagger benchmarks.

Setup (once):

    sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg    # FluidR3_GM.sf2, libvorbis, libmp3lame
    pip install -e '.[bench]'                                        # mido

Use:

    python benchmarks/ensembles.py --seed 2 -n 144 [--jobs 2]        # render (or reuse), print a summary
    from ensembles import render, cached; truths = render(2, 144)   # list[dict], one per ensemble
    truths = cached("e1")                                            # the renders already in the cache

What an ensemble is. Ensemble i of seed s draws, from random.Random(f"{s}-{i}"): a meter (round robin
over METERS: 2/4, 3/4, 4/4, 4/4 swing, 6/8, 12/8), a tempo of 69-178 quarter notes a minute (in 6/8 and
12/8 the beat is the dotted quarter, so beat_bpm = bpm * 2/3), a key (tonic and mode), a four-chord
progression (one chord a bar, cycled), 3-5 parts of distinct instrument families, each a General MIDI
program of its family playing a role (melody, chords, pad, bass, arpeggio), and drums (GM channel 10:
kick, snare, hi-hat on every subdivision, crash every 8 bars) on about 60 %. Swing puts each offbeat
eighth at 2/3 of the beat. Enough bars for at least 36 s. The MIDI (mido) is rendered by FluidSynth
with FluidR3 GM (44.1 kHz stereo) and encoded as Ogg Vorbis (even index) or MP3 (odd index).

The truth json (same fields as the earlier "e1" renders, so that cache stays readable with `cached`):
seed, index, meter, bpm (quarter notes a minute: the MIDI tempo), beat_unit ("quarter" | "dotted
quarter"), beat_bpm, beats_per_bar, subdivision (2 or 3 pulses a beat), swing, key, mode, progression
(scale degrees), parts [{family, program, role}], programs, families, drums, vocals (a choir/voice
program plays), bars, duration_s, format, key_hash, file, plus generator (GENERATOR).

The cache ($TUNESCRIBE_BENCH_CACHE, default ~/.cache/tunescribe-bench; ensembles/ under it) holds
<prefix>-<index>-<hash>.json|.mid|.ogg|.mp3 with prefix f"g{GENERATOR}s{seed}". The hash covers the
truth, the generator version and the soundfont/synth/encoder identity, so a rerun reuses every file
and a changed setting renders anew (bump GENERATOR when the music changes). The "e1-" (seed 1) and
"e2-" (seed 2) renders, 72 each, came from an earlier, lost version of this generator: same format and
vocabulary, other notes; `cached("e1")` reads them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import random
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from renders import ENCODINGS, RATE, cache_root, digest, soundfont  # noqa: E402

GENERATOR = 2
TICKS = 480  # per quarter note
BPM = (69, 178)  # quarter notes a minute
MIN_SECONDS = 36.0
TAIL_S = 2.0  # release tail rendered after the last bar
GAIN = 0.5
FORMATS = ("ogg", "mp3")  # ensemble i is FORMATS[i % 2]
DRUM_SHARE = 0.6

# name: (numerator, denominator, beat length in ticks, beats per bar, pulses per beat, swing)
METERS = {
    "2/4": (2, 4, TICKS, 2, 2, False),
    "3/4": (3, 4, TICKS, 3, 2, False),
    "4/4": (4, 4, TICKS, 4, 2, False),
    "4/4 swing": (4, 4, TICKS, 4, 2, True),
    "6/8": (6, 8, TICKS * 3 // 2, 2, 3, False),
    "12/8": (12, 8, TICKS * 3 // 2, 4, 3, False),
}
# General MIDI programs (0-based) by family, and the roles each family may play.
FAMILIES = {
    "piano": ([0, 1, 2, 4, 5], ["melody", "chords", "arpeggio"]),
    "organ": ([16, 17, 18, 19], ["chords", "pad"]),
    "guitar": ([24, 25, 26, 27, 29], ["chords", "arpeggio"]),
    "bass": ([32, 33, 34, 35, 38], ["bass"]),
    "strings": ([40, 41, 42, 48, 49], ["melody", "pad"]),
    "voice": ([52, 53], ["melody", "pad"]),
    "brass": ([56, 57, 60, 61], ["melody", "chords"]),
    "reed": ([64, 65, 66, 68, 71, 73], ["melody"]),
    "synth": ([80, 81, 88, 89], ["melody", "pad"]),
}
PROGRESSIONS = [(0, 3, 4, 0), (1, 4, 0, 5), (0, 6, 5, 4), (3, 4, 0, 0), (0, 4, 5, 3), (0, 5, 2, 6), (5, 3, 0, 4)]
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KICK, SNARE, HAT, CRASH = 36, 38, 42, 49
DRUM_CHANNEL = 9


def ensemble_dir() -> pathlib.Path:
    return cache_root() / "ensembles"


def prefix(seed: int) -> str:
    return f"g{GENERATOR}s{seed}"


def tool_identity() -> dict:
    """What the rendered bytes depend on besides the MIDI: soundfont, synth and encoder versions."""
    sf2 = soundfont()
    synth = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"sf2": sf2.name, "sf2_bytes": sf2.stat().st_size, "fluidsynth": synth.strip(),
            "ffmpeg": " ".join(ffmpeg.split()[:3]), "rate": RATE, "gain": GAIN, "tail": TAIL_S, "enc": ENCODINGS}


# ----------------------------------------------------------------------------------------- truth


def draw(seed: int, index: int) -> dict:
    """The truth of ensemble `index` of `seed`: everything the MIDI is made from."""
    rng = random.Random(f"{seed}-{index}")
    meter = list(METERS)[index % len(METERS)]
    num, den, beat, beats, sub, swing = METERS[meter]
    bpm = float(rng.randint(*BPM))
    beat_bpm = bpm * TICKS / beat
    tonic, mode = rng.randrange(12), rng.choice(["major", "minor"])
    n_parts = rng.choice([3, 4, 5])
    families = rng.sample(sorted(FAMILIES), n_parts)
    parts = []
    for n, family in enumerate(families):
        programs, roles = FAMILIES[family]
        # the first part that can carry a tune does; the others accompany
        melodic = "melody" in roles and not any(p["role"] == "melody" for p in parts)
        role = "melody" if melodic else rng.choice(roles)
        parts.append({"family": family, "program": rng.choice(programs), "role": role})
    if not any(p["role"] == "melody" for p in parts):  # nothing could: a pad carries the tune instead
        parts[0]["role"] = "melody"
    bar_s = beats * 60.0 / beat_bpm
    bars = math.ceil(MIN_SECONDS / bar_s)
    truth = {
        "seed": seed, "index": index, "meter": meter, "bpm": bpm,
        "beat_unit": "quarter" if beat == TICKS else "dotted quarter", "beat_bpm": beat_bpm,
        "beats_per_bar": beats, "subdivision": sub, "swing": swing,
        "key": f"{PITCH_CLASSES[tonic]} {mode}", "mode": mode, "progression": list(rng.choice(PROGRESSIONS)),
        "parts": parts, "programs": [p["program"] for p in parts], "families": [p["family"] for p in parts],
        "drums": rng.random() < DRUM_SHARE, "vocals": any(p["family"] == "voice" for p in parts),
        "bars": bars, "duration_s": bars * bar_s, "format": FORMATS[index % 2], "generator": GENERATOR,
        "midi_seed": rng.randrange(1 << 30),
    }
    return truth


# ------------------------------------------------------------------------------------------ MIDI


def midi_file(truth: dict):
    """The ensemble as a type-1 mido.MidiFile: a meta track, one track per part, one for drums."""
    import mido

    rng = random.Random(truth["midi_seed"])
    num, den, beat, beats, sub, swing = METERS[truth["meter"]]
    bar = beat * beats
    scale = MAJOR if truth["mode"] == "major" else MINOR
    tonic = PITCH_CLASSES.index(truth["key"].split()[0])
    # pulse offsets inside a beat: straight eighths, swung eighths (offbeat at 2/3), or three eighths
    pulses = [0, beat * 2 // 3] if swing else [i * beat // sub for i in range(sub)]
    pulse_len = beat // sub

    def pitch(degree: int, octave: int) -> int:  # scale degree (any integer) -> MIDI note
        return 12 * (octave + degree // 7) + tonic + scale[degree % 7]

    def chord(bar_index: int) -> list[int]:  # the bar's triad as scale degrees
        root = truth["progression"][bar_index % len(truth["progression"])]
        return [root, root + 2, root + 4]

    events: list[list[tuple[int, int, int, int]]] = []  # per track: (tick, note, velocity, duration)
    for part in truth["parts"]:
        notes = []
        for b in range(truth["bars"]):
            start, triad = b * bar, chord(b)
            role = part["role"]
            if role == "pad":
                notes += [(start, pitch(d, 4), 60 + rng.randrange(10), bar - 10) for d in triad]
            elif role == "chords":  # a block chord on every beat, the bar's first accented
                for k in range(beats):
                    vel = (86 if k == 0 else 66) + rng.randrange(10)
                    notes += [(start + k * beat, pitch(d, 5), vel, beat * 4 // 5) for d in triad]
            elif role == "bass":  # root on the strong beats, fifth between
                for k in range(beats):
                    degree = triad[0] if k % 2 == 0 else triad[2]
                    notes.append((start + k * beat, pitch(degree, 2), (100 if k == 0 else 80) + rng.randrange(10),
                                  beat * 9 // 10))
            elif role == "arpeggio":  # chord tones on every pulse
                k = 0
                for q in range(beats):
                    for offset in pulses:
                        vel = (82 if q == 0 and offset == 0 else 64) + rng.randrange(10)
                        notes.append((start + q * beat + offset, pitch(triad[k % 3] + 7 * (k // 3 % 2), 4), vel,
                                      pulse_len * 9 // 10))
                        k += 1
            else:  # melody: a walk over the scale, a note per pulse or per beat, chord tones on the beats
                degree = triad[rng.randrange(3)] + 7
                for q in range(beats):
                    if rng.random() < 0.4:  # a beat-long note
                        offsets, length = [0], beat * 9 // 10
                    else:
                        offsets, length = pulses, pulse_len * 9 // 10
                    for offset in offsets:
                        if offset == 0:
                            degree = min((t + 7 for t in triad), key=lambda t: abs(t - degree))
                        else:
                            degree += rng.choice([-1, 1])
                        vel = (92 if q == 0 and offset == 0 else 74) + rng.randrange(12)
                        notes.append((start + q * beat + offset, pitch(degree, 5), vel, length))
        events.append(notes)
    if truth["drums"]:
        notes = []
        for b in range(truth["bars"]):
            start = b * bar
            if b % 8 == 0:
                notes.append((start, CRASH, 96, pulse_len))
            for q in range(beats):
                strong = q % 2 == 0
                notes.append((start + q * beat, KICK if strong else SNARE, (110 if q == 0 else 96) + rng.randrange(10),
                              pulse_len))
                for offset in pulses:
                    notes.append((start + q * beat + offset, HAT, (84 if offset == 0 else 60) + rng.randrange(10),
                                  pulse_len * 2 // 5))
        events.append(notes)

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=round(60e6 / truth["bpm"]), time=0))
    midi.tracks.append(meta)
    channels = [c for c in range(16) if c != DRUM_CHANNEL]
    for n, notes in enumerate(events):
        drums = truth["drums"] and n == len(events) - 1
        channel = DRUM_CHANNEL if drums else channels[n]
        track = mido.MidiTrack()
        if not drums:
            track.append(mido.Message("program_change", channel=channel, program=truth["parts"][n]["program"], time=0))
        timeline = []
        for tick, note, vel, length in notes:
            timeline.append((tick, 1, note, min(127, vel)))
            timeline.append((tick + max(1, length), 0, note, 0))
        timeline.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same tick
        now = 0
        for tick, on, note, vel in timeline:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, channel=channel, note=note, velocity=vel, time=tick - now))
            now = tick
        midi.tracks.append(track)
    return midi


# ---------------------------------------------------------------------------------------- render


def _render_one(truth: dict, tools: dict) -> dict:
    import numpy as np

    folder = ensemble_dir()
    key = digest(truth, tools)
    stem = f"{prefix(truth['seed'])}-{truth['index']:04d}-{key}"
    meta_path = folder / f"{stem}.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{stem}.{truth['format']}"
    with tempfile.TemporaryDirectory(dir=folder, prefix=f"tmp-{os.getpid()}-") as tmp:
        mid = pathlib.Path(tmp) / "ensemble.mid"
        midi_file(truth).save(str(mid))
        synth = subprocess.run(["fluidsynth", "-ni", "-q", "-g", str(GAIN), "-r", str(RATE), "-o",
                                "synth.cpu-cores=1", "-T", "raw", "-O", "s16", "-F", "-", str(soundfont()), str(mid)],
                               capture_output=True, check=True)
        pcm = np.frombuffer(synth.stdout[: len(synth.stdout) // 4 * 4], np.int16).reshape(-1, 2)
        pcm = pcm[: int((truth["duration_s"] + TAIL_S) * RATE)]  # some patches ring on
        enc = pathlib.Path(tmp) / f"out.{truth['format']}"
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "s16le", "-ar",
                        str(RATE), "-ac", "2", "-i", "pipe:0", *ENCODINGS[truth["format"]], str(enc)],
                       input=pcm.tobytes(), check=True)
        os.replace(enc, out)
        os.replace(mid, folder / f"{stem}.mid")
    meta = dict(truth, key_hash=key, file=out.name)
    tmp_meta = meta_path.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, meta_path)
    return meta


def render(seed: int, n: int, jobs: int = 1, start: int = 0) -> list[dict]:
    """Truth dicts of ensembles start..start+n-1 of `seed`, rendering those not cached yet; each dict's
    "path" is its audio file."""
    tools = tool_identity()
    truths = [draw(seed, i) for i in range(start, start + n)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            metas = list(pool.map(_render_one, truths, [tools] * len(truths)))
    else:
        metas = [_render_one(t, tools) for t in truths]
    return [dict(m, path=str(ensemble_dir() / m["file"])) for m in metas]


def cached(name_prefix: str) -> list[dict]:
    """Truth dicts of every cached ensemble whose file name starts with `name_prefix` ("e1", "g2s2"),
    by index; each dict's "path" is its audio file."""
    metas = [json.loads(p.read_text()) for p in sorted(ensemble_dir().glob(f"{name_prefix}-*.json"))]
    metas = [m for m in metas if (ensemble_dir() / m["file"]).exists()]
    return [dict(m, path=str(ensemble_dir() / m["file"])) for m in sorted(metas, key=lambda m: m["index"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("-n", type=int, default=144, help="ensembles to render (default 144)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    truths = render(args.seed, args.n, args.jobs)
    from collections import Counter

    print(f"{len(truths)} ensembles of seed {args.seed} in {ensemble_dir()} ({prefix(args.seed)}-*)")
    print("meters:", dict(Counter(t["meter"] for t in truths)))
    print("drums:", sum(t["drums"] for t in truths), "vocals:", sum(t["vocals"] for t in truths),
          "hours: %.2f" % (sum(t["duration_s"] for t in truths) / 3600))


if __name__ == "__main__":
    main()
