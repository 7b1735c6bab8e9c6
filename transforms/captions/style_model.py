"""Which phrasing style a clip's tags are best written in: a naive Bayes model fitted on MusicCaps' train split.

MusicCaps' captions were written by a handful of annotators, each in a recognisable style ("The
low quality recording features ...", "This is a ... music piece. The atmosphere is ...", "The
tempo is medium with ..."), and each tagged clips in a recognisable vocabulary ("shimmering hi
hats", "e-bass", "medium to uptempo"). The offline captioner's styles (phrasing.STYLES) follow
those styles; this model learns from the tags alone which style a clip's caption is likeliest to
be read in (about 95% of train clips are placed right in 5-fold cross-validation).

The model is a Bernoulli naive Bayes over tag features (the tag, its words, its category, the
number of tags), fitted on the rows with `is_audioset_eval = False` only: the eval split stays
for measurement. The fitted weights ship as style_model.json (derived numbers, no caption text);
`python -m tunescribe.transforms.captions.style_model musiccaps-public.csv` refits them, and
tests/transforms/captions/test_offline.py checks that the refit reproduces the shipped file.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from tunescribe.schemas import Tag

MODEL_FILE = Path(__file__).with_name("style_model.json")
# MusicCaps annotator (author_id) -> the style (phrasing.STYLES) written after that annotator's
# habits. Annotators 3 and 8 wrote freely; these are the styles that score best on their clips.
STYLE_OF_ANNOTATOR = {"0": "features", "1": "song_tempo", "3": "piece", "4": "recording", "6": "audio",
                      "7": "tempo_music", "8": "recording", "9": "piece"}
MIN_COUNT = 5  # features seen on fewer train clips are left out of the table
SMOOTHING = 0.5
DIGITS = 3


def features(tags: Iterable[Tag]) -> set[str]:
    """What the model sees of a clip: each tag, each of its words, each category, the tag count."""
    out, n = set(), 0
    for tag in tags:
        n += 1
        out.add("t:" + tag.name)
        out.add("c:" + tag.category)
        out.update("w:" + w for w in re.findall(r"[a-z0-9&+'-]+", tag.name.lower()))
    out.add(f"n:{min(n, 16)}")
    return out


def fit(examples: Iterable[tuple[Sequence[Tag], str]], min_count: int = MIN_COUNT) -> dict:
    """Bernoulli naive Bayes: per style, log P(style) + sum over all features of log P(f | style)
    or log(1 - P(f | style)). Stored as a base score per style (every feature absent) and, per
    feature, what its presence adds."""
    examples = [(features(tags), style) for tags, style in examples]
    styles = sorted({style for _, style in examples})
    n_style = Counter(style for _, style in examples)
    counts: dict[str, Counter] = {}
    for feats, style in examples:
        for f in feats:
            counts.setdefault(f, Counter())[style] += 1
    kept = sorted(f for f, c in counts.items() if sum(c.values()) >= min_count)
    base = {s: math.log(n_style[s] / len(examples)) for s in styles}
    table = {}
    for f in kept:
        delta = []
        for s in styles:
            p = (counts[f][s] + SMOOTHING) / (n_style[s] + 2 * SMOOTHING)
            base[s] += math.log(1 - p)
            delta.append(round(math.log(p) - math.log(1 - p), DIGITS))
        table[f] = delta
    return {"styles": styles, "base": [round(base[s], DIGITS) for s in styles], "features": table,
            "fitted_on": {"clips": len(examples), "per_style": dict(sorted(n_style.items()))}}


@functools.lru_cache(maxsize=1)
def load(path: str | os.PathLike = MODEL_FILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def rank_styles(tags: Iterable[Tag], model: dict | None = None) -> list[str]:
    """The styles from likeliest to least likely for these tags (ties: by name)."""
    model = model or load()
    scores = list(model["base"])
    for f in sorted(features(tags)):  # sorted: float sums must not follow per-process set order
        delta = model["features"].get(f)
        if delta:
            scores = [a + b for a, b in zip(scores, delta)]
    return [s for _, s in sorted(zip((-x for x in scores), model["styles"]))]


def musiccaps_train_examples(csv_path: str | os.PathLike) -> list[tuple[tuple[Tag, ...], str]]:
    """(tags, style) for each MusicCaps *train* row (is_audioset_eval False) of an annotated style."""
    from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["is_audioset_eval"] == "False"]
    return [(normalise_tags(split_tag_field(row["aspect_list"])), STYLE_OF_ANNOTATOR[row["author_id"]])
            for row in rows if row["author_id"] in STYLE_OF_ANNOTATOR]


def dumps(model: dict) -> str:
    return json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """python -m tunescribe.transforms.captions.style_model MUSICCAPS_CSV [--out FILE]: refit the table."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("csv", help="MusicCaps' musiccaps-public.csv (only its train rows are read)")
    parser.add_argument("--out", default=str(MODEL_FILE))
    args = parser.parse_args(argv)
    model = fit(musiccaps_train_examples(args.csv))
    Path(args.out).write_text(dumps(model), encoding="utf-8")
    print(f"{args.out}: {len(model['features'])} features, {model['fitted_on']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
