"""`tunescribe evaluate SOURCE...`: LP-MusicCaps' caption metrics, per task and backend, and hallucinations.

Each SOURCE is a corpus folder (captions vs the clips' "reference" captions or --references) or a
file of pairs (LP-MusicCaps' inference.json, JSON lines or CSV; see transforms/evaluation/suite.py).
Prints a table, or JSON with --json. The metrics are computed as LP-MusicCaps computed them
(transforms/evaluation/metrics.py): corpus BLEU-1..4 on 13a tokens, nltk METEOR with WordNet 3.0,
rouge-score ROUGE-L, BERTScore (roberta-large, skipped with the reason when its weights are not
here), vocabulary, novelty and length; beside them a MiniLM sentence cosine and the hallucination
rate (captions naming an instrument, genre or mood their tags and attributes do not).
"""

from __future__ import annotations

import json
import os
import sys

from tunescribe.pipelines.commands.inspect import table
from tunescribe.transforms.evaluation import suite

PAIRS_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
COLUMNS = (("B1", "bleu1"), ("B2", "bleu2"), ("B3", "bleu3"), ("B4", "bleu4"), ("METEOR", "meteor_1.0"),
           ("ROUGE-L", "rougeL"), ("BERTScore", "bertscore"), ("cosine", "sentence_cosine"),
           ("vocab", "vocab_size"), ("novel words", "vocab_diversity"), ("novelty", "caption_novelty"),
           ("length", "length_avg"), ("halluc.", "hallucination_rate"), ("n", "with_reference"))


def add_arguments(parser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a corpus folder, or a JSON/JSONL/CSV file of prediction/reference pairs; several "
                        "make one table")
    parser.add_argument("--references", help="reference captions by clip key or source id (CSV/JSON/JSONL), "
                        "instead of the corpus's own 'reference' captions")
    parser.add_argument("--tags-from", metavar="MUSICCAPS_CSV",
                        help="for pairs without tags: MusicCaps' CSV, whose aspect_list of the row with the "
                        "same (reference) caption becomes the input tags of the hallucination check")
    parser.add_argument("--train-captions", metavar="CSV",
                        help="training captions for the novelty metrics (a CSV with a caption column; "
                        "MusicCaps' CSV: its train rows)")
    parser.add_argument("--vocab-prefix", type=int, help="count vocabulary over the first N captions "
                        "(LP-MusicCaps counted 2656)")
    parser.add_argument("--task", action="append", help="only this task (repeatable)")
    parser.add_argument("--backend", action="append", help="only this backend (repeatable)")
    parser.add_argument("--no-bertscore", action="store_true", help="skip BERTScore")
    parser.add_argument("--bertscore-model", help="roberta-large as a hub id or local folder "
                        "(default: $TUNESCRIBE_BERTSCORE_MODEL or roberta-large from the local cache)")
    parser.add_argument("--no-sentence-cosine", action="store_true", help="skip the MiniLM cosine (slow on CPU)")
    parser.add_argument("--device", help="torch device for the embedding scores (default: cuda if available)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _cell(value, key: str) -> str:
    if value is None:
        return "-"
    if key in ("vocab_size", "with_reference"):
        return str(value)
    if key == "length_avg":
        return f"{value:.1f}"
    return f"{100 * value:.1f}"  # percentages, as LP-MusicCaps' paper prints them


def render(results: dict) -> str:
    rows = [[name, *(_cell(r.get(key), key) for _, key in COLUMNS)] for name, r in results.items()]
    notes = sorted({f"{k}: {v}".replace("pass bertscore_model=", "pass --bertscore-model ")
                    for r in results.values() for k, v in (r.get("unavailable") or {}).items()})
    out = [table(["task/backend", *(h for h, _ in COLUMNS)], rows, indent="")]
    out.append("scores in %, length in words; halluc. = share of captions naming an instrument, genre or mood "
               "their inputs do not")
    out += [f"  {n}" for n in notes]
    for name, r in results.items():
        if r.get("top_unsupported"):
            top = ", ".join(f"{k} ({v})" for k, v in list(r["top_unsupported"].items())[:8])
            out.append(f"  {name}: most named without support: {top}")
    return "\n".join(out)


def read(args) -> dict:
    """(task, backend) -> samples, over all sources (a group in two sources: an error)."""
    refs = suite.read_references(args.references) if args.references else None
    tags = suite.musiccaps_tags_by_caption(args.tags_from) if args.tags_from else None
    groups: dict = {}
    for source in args.sources:
        pairs = source.endswith(PAIRS_SUFFIXES) and not os.path.isdir(source)  # else a corpus, maybe gs://
        found = suite.read_pairs(source, tags) if pairs else suite.read_corpus(source, refs)
        for group, samples in found.items():
            if group in groups:
                raise ValueError(f"{source}: captions of {'/'.join(group)} are in an earlier source too")
            groups[group] = samples
    return groups


def evaluate(args) -> dict:
    groups = {g: s for g, s in read(args).items()
              if (not args.task or g[0] in args.task) and (not args.backend or g[1] in args.backend)}
    if not groups:
        raise ValueError("no captions of the chosen tasks/backends")
    train = suite.train_captions(args.train_captions) if args.train_captions else None
    return {f"{task}/{backend}": suite.evaluate_group(
                samples, train_captions=train, vocab_prefix=args.vocab_prefix, bertscore=not args.no_bertscore,
                bertscore_model=args.bertscore_model, compute_sentence_cosine=not args.no_sentence_cosine,
                device=args.device)
            for (task, backend), samples in groups.items()}


def run(args, rest) -> int:
    try:
        results = evaluate(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"tunescribe evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2, sort_keys=True) if args.json else render(results))
    return 0
