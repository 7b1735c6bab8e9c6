#!/usr/bin/env python3
"""The YAMNet tagger against truth we made: rendered General MIDI ensembles, plus audio-dev's speech and silence.

    python benchmarks/tagger.py [--renders g2s2 e2] [--limit N] [--out tagger.json]

Renders come from benchmarks/ensembles.py (`cached(prefix)`; render seed 2 with
`python benchmarks/ensembles.py --seed 2 -n 144`); the tagger's thresholds were fitted on the seed-1
renders ("e1"), so measure on the others. Each render is decoded as the build decodes (48 kHz
mono) and cut into full 10 s clips; each clip goes through the real handler (YamnetHandler) and
the real stage decision (yamnet_tags.clip_tags), and the offline captioner writes its caption from
those tags alone (music without tags). Clip-level figures:

- family precision / recall: instrument families named (drums aside) against the render's families;
- drums present/absent right; vocals vs instrumental right (no vocal tag = instrumental);
- instruments named in captions: precision (drums included) and the share of captions naming one;
- audio-dev: silence tagged "silence" and nothing else, speech tagged "speech" and nothing else,
  and what the music clips got;
- cost: CPU seconds per clip of the tagger (features, ONNX, drum measures) over the decode floor
  (decoding the clip's audio at 48 kHz plus resampling it to 16 kHz), both measured here.

How the stage's constants were fitted (transforms/attributes/yamnet_tags.py), on the clips of "e1" and
"g2s2" only: the family floor and margin by a grid (floor 0.02-0.05, margin 1-2, each family left out
in turn) keeping the top-family precision >= 0.8 with the most clips named; the drum weights by a
logistic regression (scikit-learn, C=10) on the three log-measures that `clip_tags` computes.
The fitting was run from scratch scripts over this benchmark's per-clip measures, not from this file.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import types

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ensembles import cached  # noqa: E402

from tunescribe.schemas import Tag  # noqa: E402
from tunescribe.transforms.attributes.extract import mono_at  # noqa: E402
from tunescribe.transforms.attributes.yamnet_tags import FAMILIES, clip_tags  # noqa: E402
from tunescribe.transforms.audio.decode import decode_blocks  # noqa: E402
from tunescribe.transforms.captions.offline import write_captions  # noqa: E402
from tunescribe.transforms.ingest.vocabulary import categorise  # noqa: E402
from tunescribe.transforms.models.weights import fetch  # noqa: E402
from tunescribe.transforms.models.yamnet import YamnetHandler  # noqa: E402

RATE = 48000
CLIP_S = 10
FAMILY_OF_TAG = {name: family for family, (name, _) in FAMILIES.items()}
VOCAL_TAGS = {"vocals", "choir", "male vocals", "female vocals", "rap vocals", "humming"}
AUDIO_DEV = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "audio-dev"


def decode(path: str) -> tuple[np.ndarray, float]:
    """The file's mono PCM at 48 kHz and the CPU seconds it took."""
    t = time.process_time()
    samples = np.concatenate(list(decode_blocks(path, RATE, 1)), axis=1)
    return samples, time.process_time() - t


def as_tags(pairs, origin: str) -> list[Tag]:
    return [Tag(name=categorise(n)[0], category=categorise(n)[1], origin=origin, score=s) for n, s in pairs]


def tag_clips(handler, model, clips: list[np.ndarray]) -> tuple[list[list[Tag]], float]:
    t = time.process_time()
    examples = [types.SimpleNamespace(samples=c, sample_rate=RATE) for c in clips]
    results = list(handler.run_inference(examples, model))
    tags = [as_tags(clip_tags(r.example, r.inference), r.model_id) for r in results]
    return tags, time.process_time() - t


def mentions(caption: str, name: str) -> bool:
    return f" {name}" in f" {caption.lower()}"


def measure_renders(prefixes, limit, handler, model) -> dict:
    rows, decode_s, resample_s, tagger_s = [], 0.0, 0.0, 0.0
    for prefix in prefixes:
        truths = cached(prefix)[:limit] if limit else cached(prefix)
        for truth in truths:
            samples, seconds = decode(truth["path"])
            clips = [samples[:, i * RATE * CLIP_S:(i + 1) * RATE * CLIP_S] for i in range(samples.shape[1] // (RATE * CLIP_S))]
            if not clips:
                continue
            decode_s += seconds * len(clips) * RATE * CLIP_S / samples.shape[1]
            t = time.process_time()
            for c in clips:
                mono_at(types.SimpleNamespace(samples=c, sample_rate=RATE), 16000, quality="HQ")
            resample_s += time.process_time() - t
            tags, seconds = tag_clips(handler, model, clips)
            tagger_s += seconds
            for i, clip_tags_ in enumerate(tags):
                caption = write_captions(clip_tags_, key=f"{truth['file']}/{i}", tasks=("writing",)).get("writing", "")
                rows.append({"clip": f"{truth['file']}/{i}", "families": truth["families"], "drums": truth["drums"],
                             "vocals": truth["vocals"], "tags": [(t.name, round(t.score, 4)) for t in clip_tags_],
                             "caption": caption})
    return summarise(rows, decode_s, resample_s, tagger_s)


def summarise(rows, decode_s, resample_s, tagger_s) -> dict:
    named = right = present = found = drums_right = vocals_right = captions_naming = cap_named = cap_right = 0
    for r in rows:
        names = [n for n, _ in r["tags"]]
        families = {FAMILY_OF_TAG[n] for n in names if n in FAMILY_OF_TAG}
        named += len(families)
        right += len(families & set(r["families"]))
        present += len(set(r["families"]) & set(FAMILY_OF_TAG.values()))
        found += len(families & set(r["families"]))
        drums_right += ("drums" in names) == r["drums"]
        vocals_right += bool(VOCAL_TAGS & set(names)) == r["vocals"]
        in_caption = [n for n in names if (n in FAMILY_OF_TAG or n == "drums") and mentions(r["caption"], n)]
        captions_naming += bool(in_caption)
        for n in in_caption:
            cap_named += 1
            cap_right += (r["drums"] if n == "drums" else FAMILY_OF_TAG[n] in r["families"])
    n = len(rows)
    return {
        "clips": n,
        "family_precision": right / named if named else None,
        "family_recall": found / present if present else None,
        "families_named_per_clip": named / n,
        "drums_accuracy": drums_right / n,
        "vocals_vs_instrumental_accuracy": vocals_right / n,
        "caption_instrument_precision": cap_right / cap_named if cap_named else None,
        "captions_naming_an_instrument": captions_naming / n,
        "cpu_s_per_clip": {"decode": decode_s / n, "resample_16k": resample_s / n, "tagger": tagger_s / n},
        "cost_ratio_to_decode_floor": tagger_s / (decode_s + resample_s),
        "examples": rows[:12],
    }


def measure_audio_dev(handler, model) -> dict:
    out = {}
    for name in sorted(os.listdir(AUDIO_DEV)) if AUDIO_DEV.is_dir() else []:
        if not name.endswith(".ogg"):
            continue
        samples, _ = decode(str(AUDIO_DEV / name))
        tags, _ = tag_clips(handler, model, [samples[:, :RATE * CLIP_S]])
        out[name] = [(t.name, round(t.score, 3)) for t in tags[0]]
    checks = {"silence_10s.ogg": ["silence"], "speech_en.ogg": ["speech"]}
    return {"tags": out, "silence_and_speech_right": bool(out) and all(
        [n for n, _ in out.get(f, [])] == want for f, want in checks.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", nargs="+", default=["g2s2"], help="render prefixes (e1: the fitting seed)")
    parser.add_argument("--limit", type=int, default=0, help="renders per prefix (0: all)")
    parser.add_argument("--out", default="tagger.json")
    args = parser.parse_args()
    handler = YamnetHandler(fetch("yamnet").path)
    model = handler.load_model()
    report = {"model": "@".join(handler.model_identity()), "renders": args.renders,
              "ensembles": measure_renders(args.renders, args.limit, handler, model),
              "audio_dev": measure_audio_dev(handler, model)}
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1))
    summary = {k: v for k, v in report["ensembles"].items() if k != "examples"}
    print(json.dumps({"model": report["model"], "renders": args.renders, **summary,
                      "audio_dev_silence_speech_right": report["audio_dev"]["silence_and_speech_right"]}, indent=1))


if __name__ == "__main__":
    main()
