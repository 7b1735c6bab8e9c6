"""Music attributes: accuracy on the rendered pieces of ../shared/data/audio-dev (ground-truth bpm
and key in its manifest), known synthetic signals, and the Beam stage."""

from __future__ import annotations

import json
import pathlib

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import Clip, Provenance
from tunescribe.transforms.attributes.base import key_name, key_relation, parse_key, tempo_matches
from tunescribe.transforms.attributes.extract import ExtractAttributes, make_extractor
from tunescribe.transforms.audio.decode import decode_audio

SR = 22050

# Measured on audio-dev's 4 rendered pieces, whole (<= 30 s) and cut into the pipeline's 10 s
# clips (11 clips; ground truth is per piece). The test fails if a change makes an extractor worse
# than this. Whole pieces, librosa: 3/4 tempi within 4 % (Corelli's Grave at double tempo), 4/4
# allowing double/half; 4/4 keys exact; the duple meter of all 4. essentia (degara + edma): 2/4
# tempi (two at double tempo), 4/4 with double/half, 4/4 keys. librosa's other key profiles, for
# comparison: Krumhansl-Kessler 2 exact + 2 a fifth off, Temperley 3 exact + 1 relative (so
# Albrecht-Shanahan is the default). On the 11 clips of 10 s, librosa: 8 tempi within 4 %, 10 with
# double/half, 8 keys exact, 10 exact/relative/fifth, meter right on 5 (too few beats for a guess
# on the slowest); essentia: 3 tempi, 9 with double/half, 8 keys exact, 11 close.
MEASURED = {
    "librosa": {"tempo": 3, "tempo_octave": 4, "key_exact": 4, "key_close": 4, "meter_duple": 4},
    "librosa/krumhansl": {"key_exact": 2, "key_close": 4},
    "librosa/temperley": {"key_exact": 3, "key_close": 4},
    "essentia": {"tempo": 2, "tempo_octave": 4, "key_exact": 4, "key_close": 4},
    "librosa@10s": {"tempo": 8, "tempo_octave": 10, "key_exact": 8, "key_close": 10, "meter_duple": 5},
    "essentia@10s": {"tempo": 3, "tempo_octave": 9, "key_exact": 8, "key_close": 11},
}
WINDOW_S = 10.0


def rendered_pieces(audio_dev):
    rows = [json.loads(line) for line in (audio_dev / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("bpm") and r.get("key")]


def excerpts(extractor, pieces, audio_dev, window_s=None):
    """(manifest row, mono audio) per whole piece, or per full `window_s` clip of each piece."""
    for row in pieces:
        mono = decode_audio(str(audio_dev / row["file"]), extractor.rate, 1)[0]
        if window_s is None:
            yield row, mono
            continue
        win = int(window_s * extractor.rate)
        for lo in range(0, mono.shape[0] - win + 1, win):
            yield row, mono[lo: lo + win]


def accuracy(extractor, items) -> tuple[dict, list]:
    extractor.setup()
    scores = {"tempo": 0, "tempo_octave": 0, "key_exact": 0, "key_close": 0, "meter_duple": 0, "n": 0}
    table = []
    for row, mono in items:
        found = {a.name: a for a in extractor.extract(mono)}
        bpm, key = found["tempo"].number, found["key"].value
        relation = key_relation(key, row["key"])
        meter = found.get("meter")
        truth_duple = all(int(ts.split("/")[0]) % 2 == 0 for ts in row.get("time_signature", ["4/4"]))
        scores["n"] += 1
        scores["tempo"] += tempo_matches(bpm, row["bpm"])
        scores["tempo_octave"] += tempo_matches(bpm, row["bpm"], octave=True)
        scores["key_exact"] += relation == "exact"
        scores["key_close"] += relation in ("exact", "relative", "fifth")
        scores["meter_duple"] += meter is not None and (meter.value == "4/4") == truth_duple
        table.append((row["file"], row["bpm"], bpm, row["key"], key, relation, meter and meter.value))
    return scores, table


@pytest.mark.parametrize("name", list(MEASURED))
def test_accuracy_on_rendered_pieces(audio_dev, name):
    if name.startswith("essentia"):
        pytest.importorskip("essentia", reason="optional AGPL extractor not installed")
    pieces = rendered_pieces(audio_dev)
    assert len(pieces) == 4
    spec, _, window = name.partition("@")
    backend, _, profile = spec.partition("/")
    extractor = make_extractor(backend, profile or "albrecht")
    scores, table = accuracy(extractor, excerpts(extractor, pieces, audio_dev, WINDOW_S if window else None))
    n = scores.pop("n")
    print(f"\n{name}: " + ", ".join(f"{k} {v}/{n}" for k, v in scores.items()))
    for line in table:
        print("  %-32s bpm %3d -> %6.1f   key %-9s -> %-9s (%s)  meter %s" % line)
    for metric, floor in MEASURED[name].items():
        assert scores[metric] >= floor, f"{name} {metric}: {scores[metric]}/{n} < measured {floor}"


def clicks(bpm: float, beats_per_bar: int, seconds: float = 12.0) -> np.ndarray:
    """A metronome: a high, loud click on each bar's first beat and softer, lower ones after."""
    y = np.zeros(int(seconds * SR), np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    period = 60.0 / bpm
    for i in range(int(seconds / period)):
        first = i % beats_per_bar == 0
        click = (1.0 if first else 0.35) * np.sin(2 * np.pi * (1500 if first else 800) * t) * np.exp(-80 * t)
        start = int(i * period * SR)
        y[start: start + click.size] += click[: y.size - start].astype(np.float32)
    return y


def chords(tonic: int, mode: str, seconds_each: float = 1.0) -> np.ndarray:
    """A cadence (I-IV-V-I-vi-ii-V-I, or its minor form) of harmonic tones in the given key."""
    third = 4 if mode == "major" else 3
    progression = [(0, third, 7), (5, 9 if mode == "major" else 8, 12), (7, 11, 14), (0, third, 7),
                   (9 if mode == "major" else 8, 12, 16 if mode == "major" else 15), (2 if mode == "major" else 5,
                   5 if mode == "major" else 8, 9 if mode == "major" else 12), (7, 11, 14), (0, third, 7)]
    t = np.arange(int(seconds_each * SR)) / SR
    out = []
    for chord in progression:
        seg = np.zeros_like(t)
        for interval in chord + (chord[0] - 12,):
            f = 440.0 * 2 ** ((48 + tonic + interval - 69) / 12)
            seg += sum(0.15 / h ** 1.5 * np.sin(2 * np.pi * f * h * t) for h in range(1, 5)) * np.exp(-3 * t)
        out.append(seg)
    return np.concatenate(out).astype(np.float32)


@pytest.fixture(scope="module")
def librosa_extractor():
    extractor = make_extractor("librosa")
    extractor.setup()
    return extractor


@pytest.mark.parametrize("bpm,beats", [(72, 4), (100, 3), (128, 4), (90, 3)])
def test_tempo_and_meter_of_a_metronome(librosa_extractor, bpm, beats):
    found = {a.name: a for a in librosa_extractor.extract(clicks(bpm, beats))}
    assert tempo_matches(found["tempo"].number, bpm)
    assert found["tempo"].confidence > 0.5
    assert found["meter"].value == ("3/4" if beats == 3 else "4/4")
    assert found["tempo"].extractor.startswith("librosa 0.")


@pytest.mark.parametrize("tonic,mode", [(0, "major"), (6, "minor"), (10, "major"), (3, "minor")])
def test_key_of_a_cadence(librosa_extractor, tonic, mode):
    [key] = [a for a in librosa_extractor.extract(chords(tonic, mode)) if a.name == "key"]
    assert key.value == key_name(tonic, mode) and 0 < key.confidence <= 1


def test_no_rhythm_from_short_or_silent_audio(librosa_extractor):
    assert librosa_extractor.extract(np.zeros(10 * SR, np.float32)) == []
    names = {a.name for a in librosa_extractor.extract(clicks(120, 4, seconds=2.0))}
    assert "tempo" not in names and "meter" not in names


def test_key_names_and_relations():
    assert parse_key("A- major") == (8, "major") == parse_key("G# major") == parse_key("Ab")
    assert parse_key("ebm") == (3, "minor")
    assert key_relation("C major", "C major") == "exact"
    assert key_relation("G major", "C major") == "fifth" and key_relation("F major", "C major") == "fifth"
    assert key_relation("A minor", "C major") == "relative" and key_relation("C major", "A minor") == "relative"
    assert key_relation("C minor", "C major") == "parallel" and key_relation("D major", "C major") == "other"
    assert tempo_matches(143.5, 72, octave=True) and not tempo_matches(143.5, 72)
    with pytest.raises(ValueError):
        parse_key("H dur")


def test_stage_appends_attributes_of_each_extractor():
    tone = clicks(100, 4, seconds=8.0)
    stereo48k = np.stack([tone, tone])  # the stage resamples and mixes to mono itself
    import soxr
    stereo48k = soxr.resample(stereo48k.T, SR, 48000).T.astype(np.float32)
    clip = Clip(key="k", source_id="s", clip_index=0, start_s=0.0, end_s=8.0, sample_rate=48000, channels=2,
                provenance=Provenance("in", "uri", "0", "h"), samples=np.ascontiguousarray(stereo48k))
    with beam.Pipeline() as p:
        out = (p | beam.Create([clip]) | beam.ParDo(ExtractAttributes((make_extractor("librosa"),)))
               | beam.Map(lambda c: sorted((a.name, a.extractor.split()[0], a.number is not None)
                                           for a in c.attributes)))
        assert_that(out, equal_to([[("key", "librosa", False), ("meter", "librosa", False),
                                    ("tempo", "librosa", True)]]))


def test_unknown_extractor_is_refused():
    with pytest.raises(ValueError, match="unknown attribute extractor"):
        make_extractor("madmom")


def test_stage_gives_silent_clips_no_attributes():
    noise = (np.random.default_rng(0).standard_normal((1, 8 * SR)) * 1e-5).astype(np.float32)
    clip = Clip(key="k", source_id="s", clip_index=0, start_s=0.0, end_s=8.0, sample_rate=SR, channels=1,
                provenance=Provenance("in", "uri", "0", "h"), samples=noise, stats={"loudness_lufs": -95.0})
    with beam.Pipeline() as p:
        out = (p | beam.Create([clip]) | beam.ParDo(ExtractAttributes((make_extractor("librosa"),)))
               | beam.Map(lambda c: c.attributes))
        assert_that(out, equal_to([()]))


# --- rendered General MIDI ensembles (benchmarks/ensembles.py), the truth known -------------------

BENCHMARKS = pathlib.Path(__file__).resolve().parents[3] / "benchmarks"  # ensembles.py renders, tempo.py measures
ENSEMBLE_SEED, ENSEMBLES = 7, 12  # two of each meter: 2/4, 3/4, 4/4, 4/4 swing, 6/8, 12/8; 36 clips of 10 s
# Measured on these 36 clips (benchmarks/tempo.py's per-clip path; the full benchmark, 1,300 clips of
# three sets, is in benchmarks/results/tempo-*.json). Before the metrical-level choice the librosa
# tempo read 6/8 and 12/8 at the quarter or eighth pulse of slow pieces; now: 30/36 at the notated
# beat (dotted quarter in compound meters), 33/36 allowing double/half, meter right on 26, compound
# meters' beat on 9/12, and of the 33 tempi above the caption's floor 30 at the beat.
ENSEMBLE_FLOORS = {"beat": 0.8, "beat_or_octave": 0.9, "meter_right": 0.7, "compound_beat": 0.7,
                   "stated": 0.8, "stated_beat": 0.85}


@pytest.fixture(scope="module")
def ensemble_rows(tmp_path_factory):
    import os
    import shutil
    import sys

    if shutil.which("fluidsynth") is None or shutil.which("ffmpeg") is None:
        pytest.skip("fluidsynth/ffmpeg not installed: apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg")
    if not any(os.path.exists(p) for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")):
        pytest.skip("no General MIDI soundfont: apt-get install -y fluid-soundfont-gm")
    sys.path.insert(0, str(BENCHMARKS))
    import ensembles
    import tempo

    old = os.environ.get("TUNESCRIBE_BENCH_CACHE")
    os.environ["TUNESCRIBE_BENCH_CACHE"] = str(tmp_path_factory.mktemp("bench-cache"))
    try:
        truths = ensembles.render(ENSEMBLE_SEED, ENSEMBLES)
        return truths, tempo.measure(truths), tempo
    finally:
        if old is None:
            del os.environ["TUNESCRIBE_BENCH_CACHE"]
        else:
            os.environ["TUNESCRIBE_BENCH_CACHE"] = old


def test_tempo_and_meter_on_rendered_ensembles(ensemble_rows):
    from tunescribe.transforms.captions.offline import TEMPO_MIN_CONFIDENCE

    truths, rows, tempo = ensemble_rows
    assert len(truths) == ENSEMBLES and len(rows) == 3 * ENSEMBLES  # >= 36 s each: three whole 10 s clips
    got = tempo.summary(rows, TEMPO_MIN_CONFIDENCE)["all"]
    compound = [r for r in rows if r["meter"] in ("6/8", "12/8")]
    got["compound_beat"] = sum(r["level"] == "beat" for r in compound) / len(compound)
    print("\n" + tempo.table(tempo.summary(rows, TEMPO_MIN_CONFIDENCE), "seed 7"))
    for metric, floor in ENSEMBLE_FLOORS.items():
        assert got[metric] >= floor, f"{metric}: {got[metric]:.2f} < measured floor {floor}"


def test_ensemble_midi_holds_its_truth():
    """The MIDI says what the truth json says: tempo, time signature, programs, drums, length."""
    import sys

    mido = pytest.importorskip("mido")
    sys.path.insert(0, str(BENCHMARKS))
    import ensembles

    for index in range(6):
        truth = ensembles.draw(3, index)
        assert truth == ensembles.draw(3, index)  # a pure function of (seed, index)
        midi = ensembles.midi_file(truth)
        meta = {m.type: m for m in midi.tracks[0]}
        assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(truth["bpm"], rel=1e-4)
        assert f"{meta['time_signature'].numerator}/{meta['time_signature'].denominator}" == truth["meter"].split()[0]
        programs = [m.program for t in midi.tracks for m in t if m.type == "program_change"]
        assert programs == truth["programs"]
        drums = any(m.type == "note_on" and m.channel == 9 for t in midi.tracks for m in t)
        assert drums == truth["drums"]
        assert midi.length == pytest.approx(truth["duration_s"], abs=60 / truth["beat_bpm"])
        assert truth["beat_bpm"] == pytest.approx(truth["bpm"] * (2 / 3 if truth["meter"] in ("6/8", "12/8") else 1))
