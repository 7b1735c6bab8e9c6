"""The offline captioner on MusicCaps' eval split, scored as LP-MusicCaps scored their captions.

    python benchmarks/offline_captions.py [--seeds 0 1 2] [--sentence-cosine] [--out DIR]

For each eval row (is_audioset_eval True) the aspect_list, read as tags the way a build reads the
MusicCaps preset, goes through the offline captioner (transforms/captions/offline.py); its four
captions are scored against the human caption by `tunescribe evaluate`, beside LP-MusicCaps' own
inference.json files (../shared/data/lp-music-caps), in one table. Also writes the pairs as JSON
lines (--out) so the table can be rebuilt with `tunescribe evaluate`. Scores do not depend on the
machine; the time taken is printed for scale.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MUSICCAPS = DATA / "musiccaps" / "musiccaps-public.csv"
LPMC = DATA / "lp-music-caps"


def eval_rows():
    with open(MUSICCAPS, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["is_audioset_eval"] == "True"]


def write_pairs(out: pathlib.Path, seed: int) -> tuple[pathlib.Path, float]:
    from tunescribe.transforms.captions.offline import TASKS, write_captions
    from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

    rows, lines = eval_rows(), []
    start = time.process_time()
    for row in rows:
        tags = normalise_tags(split_tag_field(row["aspect_list"]))
        captions = write_captions(tags, key=row["ytid"], seed=seed)
        for task in TASKS:
            lines.append({"task": f"offline_{task}" + (f"@seed{seed}" if seed else ""), "backend": "tunescribe",
                          "prediction": captions[task], "reference": row["caption"],
                          "tags": row["aspect_list"]})
    elapsed = time.process_time() - start
    path = out / f"offline-seed{seed}.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path, elapsed / len(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sentence-cosine", action="store_true", help="also the MiniLM cosine (minutes on CPU)")
    parser.add_argument("--out", help="folder for the pairs files (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not MUSICCAPS.is_file():
        sys.exit(f"MusicCaps CSV not found at {MUSICCAPS}")
    out = pathlib.Path(args.out or tempfile.mkdtemp(prefix="offline-captions-"))
    out.mkdir(parents=True, exist_ok=True)
    sources = []
    for seed in args.seeds:
        path, per_clip = write_pairs(out, seed)
        sources.append(str(path))
        print(f"seed {seed}: {len(eval_rows())} eval clips x 4 captions, {1000 * per_clip:.2f} ms CPU per clip")
    sources += [str(p) for p in sorted(LPMC.glob("*/inference.json"))]
    from tunescribe.pipelines import cli

    command = ["evaluate", *sources, "--tags-from", str(MUSICCAPS), "--train-captions", str(MUSICCAPS),
               "--no-bertscore"]
    if not args.sentence_cosine:
        command.append("--no-sentence-cosine")
    print("tunescribe " + " ".join(command[:1] + ["..."] + command[-6:]))
    return cli.main(command)


if __name__ == "__main__":
    sys.exit(main())
