"""How MusicCaps' train captions are phrased around their tags: the statistics behind phrasing.py.

    python benchmarks/musiccaps_phrasing.py [--top 25]

Reads only the train split (is_audioset_eval False) of ../shared/data/musiccaps/musiccaps-public.csv.
In each caption, the clip's own aspects are replaced by their tag category ({instrument}, {mood},
...), so what is left is phrasing; the script prints, per annotator, the most frequent sentence
frames and sentence openings. The offline captioner's frames (transforms/captions/phrasing.py)
were written after these, as generic frames whose content words all come from the tags.
"""

from __future__ import annotations

import argparse
import collections
import csv
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MUSICCAPS = REPO.parent / "shared" / "data" / "musiccaps" / "musiccaps-public.csv"


def slotted(row) -> list[str]:
    """The caption's sentences, lower case, with the clip's aspects replaced by {category}."""
    from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

    text = row["caption"].lower()
    for aspect in sorted((a.strip().lower() for a in split_tag_field(row["aspect_list"])), key=len, reverse=True):
        tags = normalise_tags([aspect])
        if tags and len(aspect) > 2:
            text = re.sub(r"\b" + re.escape(aspect) + r"\b", "{" + tags[0].category + "}", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if not MUSICCAPS.is_file():
        sys.exit(f"MusicCaps CSV not found at {MUSICCAPS}")
    with open(MUSICCAPS, newline="", encoding="utf-8") as fh:
        train = [r for r in csv.DictReader(fh) if r["is_audioset_eval"] == "False"]
    frames, openings = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
    for row in train:
        for n, sentence in enumerate(slotted(row)):
            frames[row["author_id"]][sentence] += 1
            openings[row["author_id"]][("first: " if n == 0 else "") + " ".join(sentence.split()[:4])] += 1
    for author in sorted(frames):
        print(f"=== annotator {author}: {sum(1 for r in train if r['author_id'] == author)} train captions")
        for sentence, count in frames[author].most_common(args.top):
            print(f"  {count:4d}  {sentence}")
        print("  -- openings")
        for opening, count in openings[author].most_common(args.top):
            print(f"  {count:4d}  {opening}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
