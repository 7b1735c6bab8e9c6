#!/usr/bin/env python3
"""Tempo (and key) accuracy of the attribute extractor on rendered General MIDI ensembles, per 10 s
clip, with a breakdown by metrical level and by meter.

    python benchmarks/tempo.py --set e1                      # the cached seed-1 renders
    python benchmarks/tempo.py --seed 2 -n 144               # render (or reuse) seed 2, then measure
    python benchmarks/tempo.py --seed 2 --out benchmarks/results/tempo-s2-after.json \
        --compare benchmarks/results/tempo-s2-before.json

Each ensemble (benchmarks/ensembles.py) is decoded as a build decodes it (48 kHz mono), cut into
the build's 10 s clips (whole clips only), and each clip goes through the stage's own path:
`mono_at` to the extractor's rate, then `extract` of the configured extractor (default librosa).

Truth. The beat is the notated one: the quarter in 2/4, 3/4, 4/4 and swing, the dotted quarter in
6/8 and 12/8 (beat_bpm). The MIDI file's own tempo is in quarter notes (bpm), which in compound
meters is a pulse the music does not have (3/2 of the beat); both are reported. A clip's estimate is
put at the metrical level it matches within 4 %: the beat (x1), double/half (x2, x1/2), 3/2 or 2/3
(the dotted-quarter/quarter confusion), x3 or x1/3 (the eighth pulse of compound meters / the bar of
3/4), or other. Also: the share with a tempo caption would state (confidence at or above the
captioner's TEMPO_MIN_CONFIDENCE) and its accuracy, the meter estimate against the truth, and key
accuracy (exact, and exact/fifth/relative as MIREX counts close keys).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import types
from collections import Counter, defaultdict

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WINDOW_S = 10.0
DECODE_RATE = 48000  # the build's default decode rate (pipelines/config/stages.py)
TOLERANCE = 0.04
LEVELS = [("beat", 1.0), ("double", 2.0), ("half", 0.5), ("3/2", 1.5), ("2/3", 2 / 3), ("x3", 3.0), ("x1/3", 1 / 3)]


def level(estimate: float, truth: float) -> str:
    """The metrical level of `truth` an estimate matches within TOLERANCE, or "other"."""
    for name, factor in LEVELS:
        if abs(estimate - truth * factor) <= TOLERANCE * truth * factor:
            return name
    return "other"


def clips(truth: dict):
    """(clip index, mono audio at 48 kHz) for each whole 10 s clip of a render."""
    from tunescribe.transforms.audio.decode import decode_audio

    mono = decode_audio(truth["path"], DECODE_RATE, 1)
    win = int(WINDOW_S * DECODE_RATE)
    for n, lo in enumerate(range(0, mono.shape[1] - win + 1, win)):
        yield n, mono[:, lo: lo + win]


def measure(truths: list[dict], extractor_name: str = "librosa") -> list[dict]:
    """One row per clip: truth, the extractor's tempo/meter/key with confidences, and their levels."""
    from tunescribe.transforms.attributes.base import key_relation, parse_key
    from tunescribe.transforms.attributes.extract import make_extractor, mono_at

    extractor = make_extractor(extractor_name)
    extractor.setup()
    rows = []
    for truth in truths:
        for n, samples in clips(truth):
            clip = types.SimpleNamespace(samples=samples, sample_rate=DECODE_RATE)
            found = {a.name: a for a in extractor.extract(mono_at(clip, extractor.rate))}
            tempo, meter, key = found.get("tempo"), found.get("meter"), found.get("key")
            row = {"file": truth["file"], "clip": n, "meter": truth["meter"], "bpm": truth["bpm"],
                   "beat_bpm": truth["beat_bpm"], "drums": truth["drums"], "key": truth["key"],
                   "tempo": tempo and tempo.number, "tempo_confidence": tempo and tempo.confidence,
                   "meter_estimate": meter and meter.value, "meter_confidence": meter and meter.confidence,
                   "key_estimate": key and key.value}
            row["level"] = level(tempo.number, truth["beat_bpm"]) if tempo else "none"
            row["midi_level"] = level(tempo.number, truth["bpm"]) if tempo else "none"
            row["key_relation"] = key_relation(parse_key(key.value), parse_key(truth["key"])) if key else "none"
            rows.append(row)
    return rows


def shares(rows: list[dict], field: str) -> dict:
    counts = Counter(r[field] for r in rows)
    return {name: round(counts[name] / len(rows), 3) for name in [n for n, _ in LEVELS] + ["other", "none"]
            if counts[name]}


def summary(rows: list[dict], min_confidence: float | None = None) -> dict:
    """The figures of one run: overall and per meter."""
    def block(rs):
        n = len(rs)
        beat = sum(r["level"] == "beat" for r in rs)
        out = {"clips": n, "beat": round(beat / n, 3),
               "beat_or_octave": round(sum(r["level"] in ("beat", "double", "half") for r in rs) / n, 3),
               "levels": shares(rs, "level"),
               "midi_tempo": round(sum(r["midi_level"] == "beat" for r in rs) / n, 3),
               "midi_tempo_or_octave": round(sum(r["midi_level"] in ("beat", "double", "half") for r in rs) / n, 3),
               "midi_levels": shares(rs, "midi_level"),
               "meter_right": round(sum(meter_right(r) for r in rs) / n, 3),
               "key_exact": round(sum(r["key_relation"] == "exact" for r in rs) / n, 3),
               "key_close": round(sum(r["key_relation"] in ("exact", "fifth", "relative") for r in rs) / n, 3)}
        if min_confidence is not None:
            stated = [r for r in rs if r["tempo"] is not None and (r["tempo_confidence"] or 0) >= min_confidence]
            out["stated"] = round(len(stated) / n, 3)
            out["stated_beat"] = round(sum(r["level"] == "beat" for r in stated) / len(stated), 3) if stated else None
        return out

    result = {"all": block(rows)}
    by_meter = defaultdict(list)
    for r in rows:
        by_meter[r["meter"]].append(r)
    result["per_meter"] = {m: block(rs) for m, rs in sorted(by_meter.items())}
    return result


def meter_right(row: dict) -> bool:
    """The meter estimate groups beats as the true meter does and divides them as it does: 2/4 and
    4/4 count as one (both group in twos), so do 6/8 and 12/8; a swing (shuffle) 4/4 counts as
    right read either as 4/4 or as 12/8/6/8, the way shuffles are written both ways."""
    est, truth = row["meter_estimate"], row["meter"]
    if est is None:
        return False
    same = {"2/4": "duple", "4/4": "duple", "3/4": "triple", "6/8": "compound", "12/8": "compound", "9/8": "9/8"}
    if truth == "4/4 swing":
        return same.get(est) in ("duple", "compound")
    return same.get(est, est) == same.get(truth, truth)


def table(result: dict, title: str) -> str:
    lines = [f"### {title}", "",
             "| meter | clips | beat ±4% | beat or x2/x½ | 3/2 | 2/3 | x3 | x⅓ | other | MIDI tempo ±4% | stated | stated right "
             "| meter right | key exact |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, b in [("all", result["all"])] + list(result["per_meter"].items()):
        lv = b["levels"]
        lines.append(f"| {name} | {b['clips']} | {b['beat']:.2f} | {b['beat_or_octave']:.2f} | "
                     f"{lv.get('3/2', 0):.2f} | {lv.get('2/3', 0):.2f} | {lv.get('x3', 0):.2f} | "
                     f"{lv.get('x1/3', 0):.2f} | {lv.get('other', 0) + lv.get('none', 0):.2f} | "
                     f"{b['midi_tempo']:.2f} | {b.get('stated', 0):.2f} | {b.get('stated_beat') or 0:.2f} | "
                     f"{b['meter_right']:.2f} | {b['key_exact']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", help="measure the cached renders with this file-name prefix (e.g. e1)")
    parser.add_argument("--seed", type=int, default=2, help="else render (or reuse) this seed")
    parser.add_argument("-n", type=int, default=144)
    parser.add_argument("--extractor", default="librosa")
    parser.add_argument("--out", type=pathlib.Path, help="write the summary and per-clip rows as JSON here")
    parser.add_argument("--compare", type=pathlib.Path, help="a previous --out to print beside this run")
    args = parser.parse_args()
    from ensembles import cached, prefix, render

    from tunescribe.transforms.captions import offline

    truths = cached(args.set) if args.set else render(args.seed, args.n)
    name = args.set or prefix(args.seed)
    if not truths:
        raise SystemExit(f"no renders for {name}")
    rows = measure(truths, args.extractor)
    result = summary(rows, getattr(offline, "TEMPO_MIN_CONFIDENCE", None))
    print(table(result, f"{name}: {len(truths)} renders, {len(rows)} clips of {WINDOW_S:.0f} s ({args.extractor})"))
    if args.compare:
        before = json.loads(args.compare.read_text())
        print()
        print(table(before["summary"], f"compared with {args.compare.name}"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"set": name, "renders": len(truths), "extractor": args.extractor,
                                        "summary": result, "clips": rows}, indent=1) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
