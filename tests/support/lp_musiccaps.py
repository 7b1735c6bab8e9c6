"""LP-MusicCaps' released outputs (../shared/data/lp-music-caps): what the metric tests read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tunescribe.transforms.captions.prompts import LP_MUSICCAPS_TASKS

# Its baselines and one folder per caption task, each with inference.json and results.json.
LPMC_TASKS = ("baseline_k2c", "baseline_tagconcat", "baseline_template",
              *sorted(f"caption_{task}" for task in LP_MUSICCAPS_TASKS))
# LP-MusicCaps-MC keeps the MusicCaps clips it could crawl: 2,656 of the 2,663 training ones. Their
# zip(predictions, train captions) therefore cut the vocabulary metrics to the first 2,656 predictions.
LPMC_VOCAB_PREFIX = 2656


def load_inference(path) -> tuple[list[str], list[str]]:
    """(predictions, references) of an ``inference.json`` (a list of ``{"prediction", "ground_truth"}``)."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    return [str(r["prediction"]) for r in rows], [str(r["ground_truth"]) for r in rows]


def load_results(path) -> dict:
    """Their published scores (``results.json``)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def musiccaps_train_captions(csv_path) -> list[str]:
    """MusicCaps' training captions, verbatim (the one multi-line caption keeps its "\\r\\n")."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return [row["caption"] for row in csv.DictReader(fh) if row["is_audioset_eval"] == "False"]
