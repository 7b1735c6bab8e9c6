"""`tunescribe filter CORPUS CONFIG --dry-run`: re-decide a built corpus with new thresholds.

Reads the stats store (`<corpus>/.tunescribe/candidates.parquet`: every clip that reached the
quality decisions, with all its stats) and applies the config's `quality` section to it — no
audio is decoded and no model runs. Prints how many clips each rule would drop and histograms of
the stats, so thresholds can be chosen before a run.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.pipelines.quality import decisions_of
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates
from tunescribe.transforms.quality.decide import Decisions, clip_verdict
from tunescribe.transforms.quality.decontaminate import EvalIndex, contamination, load_eval_set
from tunescribe.transforms.quality.dedup import Summary, find_duplicates
from tunescribe.transforms.quality.rules import caption_failures

HELP = "re-apply quality thresholds to a built corpus's stored stats (dry run: counts and histograms)"


def add_arguments(parser) -> None:
    parser.add_argument("corpus", help="a corpus folder written by `tunescribe build`")
    parser.add_argument("config", help="config whose `quality` section holds the new thresholds")
    parser.add_argument("--dry-run", action="store_true", help="only print what each rule would drop")
    parser.add_argument("--bins", type=int, default=10, help="histogram bins")


def decide(clips, d: Decisions):
    """The decisions of DecideQuality, in one process: (accepted clips, [(key, stage, reason, detail)])."""
    index = EvalIndex([load_eval_set(e) for e in d.eval_sets]) if d.eval_sets else None
    survivors, rejects = [], []
    for clip in clips:
        judged, failures = clip_verdict(clip, d)
        if failures:
            rejects.append((clip.key, "quality", failures[0][0], "; ".join(f"{r}: {t}" for r, t in failures)))
            continue
        hit = index and contamination(judged, index, d.dedup.max_ber or 0.1, d.dedup.min_overlap_s,
                                      d.dedup.min_coverage)
        if hit:
            rejects.append((clip.key, "decontaminate", *hit))
            continue
        survivors.append(judged)
    verdicts = find_duplicates([Summary.of(c) for c in survivors], d.dedup)
    accepted = []
    for clip in survivors:
        v = verdicts.get(clip.key)
        if v is not None and v.reason:
            rejects.append((clip.key, "dedup", v.reason, f"{v.detail}; kept: {v.twin}"))
        else:
            accepted.append(clip)
    return accepted, rejects


def histogram(values, bins: int) -> list[str]:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if values.size == 0:
        return ["    (no values)"]
    counts, edges = np.histogram(values, bins=bins)
    top = max(counts.max(), 1)
    return [f"    {lo:10.3g} .. {hi:<10.3g} {n:7d} {'#' * int(round(40 * n / top))}"
            for lo, hi, n in zip(edges[:-1], edges[1:], counts)]


def report(clips, d: Decisions, bins: int) -> str:
    accepted, rejects = decide(clips, d)
    rule_clips, rule_captions = Counter(), Counter()
    for clip in clips:
        for caption in clip.captions:
            for reason in {r for r, _ in caption_failures(caption, clip, d.captions)}:
                rule_captions[reason] += 1
    for _, stage, reason, _ in rejects:
        rule_clips[f"{stage}/{reason}"] += 1
    lines = [f"tunescribe filter (dry run): {len(clips)} candidate clips -> {len(accepted)} accepted, "
             f"{len(rejects)} rejected", "  clips dropped, by first reason:"]
    lines += [f"    {n:7d}  {r}" for r, n in sorted(rule_clips.items())] or ["    (none)"]
    lines.append("  captions failing each caption rule (a caption may fail several):")
    lines += [f"    {n:7d}  {r}" for r, n in sorted(rule_captions.items())] or ["    (none)"]
    clip_stats = sorted({k for c in clips for k, v in c.stats.items() if isinstance(v, (int, float))})
    cap_stats = sorted({k for c in clips for cap in c.captions for k, v in cap.stats.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
    for name in clip_stats:
        lines += [f"  clip stat {name}:"] + histogram([c.stats.get(name) for c in clips], bins)
    for name in cap_stats:
        lines += [f"  caption stat {name}:"] + histogram(
            [cap.stats.get(name) for c in clips for cap in c.captions], bins)
    return "\n".join(lines)


def run(args, beam_args) -> int:
    path = os.path.join(args.corpus, ".tunescribe", CANDIDATES_FILE)
    if not os.path.exists(path):
        raise ConfigError(f"{args.corpus} has no stats store ({path}): build it with this version first")
    cfg = load_config(args.config, args.corpus)
    if not args.dry_run:
        raise ConfigError("only --dry-run is implemented: rebuild with `tunescribe build` to apply new thresholds")
    print(report(read_candidates(path), decisions_of(cfg), args.bins))
    return 0
