"""Near-duplicate captions (off unless caption_jaccard is set): MinHash over word 3-grams; a caption
as good as equal to one of an earlier kept clip of another source is dropped, and a clip left
without captions is a duplicate.

The steps of near_audio.py with MinHash bands as values (a band value held by more than
`max_bucket` captions is skipped too: a template caption carries no identity, and its group would
make pairs quadratic in the corpus); every shared band is a candidate (as in MinHash LSH), verified
by the MinHash Jaccard estimate. Memory: one record of ~150 bytes per band (14 bands at
caption_jaccard 0.7) per caption; the resolver holds a CaptionEdges ~300 + ~80 bytes per edge.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Optional

import apache_beam as beam

from tunescribe.transforms.quality.duplicates import (
    MEMBER_CAPTION,
    MEMBER_KEY,
    Summary,
    UpTo,
    Verdict,
    VerifyPairs,
    combine_per_key,
    group_by_key,
    pairs_across_sources,
    verify_pairs,
)
from tunescribe.transforms.quality.settings import DedupRules

_WORD = re.compile(r"\w+")


def _minhash(text: str, num_perm: int):
    from datasketch import MinHash

    tokens = _WORD.findall(text.lower())
    grams = {" ".join(tokens[i:i + 3]) for i in range(max(1, len(tokens) - 2))}
    m = MinHash(num_perm=num_perm, seed=1)
    m.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return m


@functools.lru_cache(maxsize=8)
def _band_ranges(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """MinHash LSH's bands for the threshold (datasketch's choice; computing it takes a while)."""
    from datasketch import MinHashLSH

    return tuple(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)


def band_members(s: Summary, rules: DedupRules):
    """((band, its hash values), member) per caption and band: captions sharing a band are
    MinHash LSH candidates."""
    for i, text in enumerate(s.captions):
        values = _minhash(text, rules.num_perm).hashvalues
        for band, (lo, hi) in enumerate(_band_ranges(rules.caption_jaccard, rules.num_perm)):
            yield (band, values[lo:hi].astype("<u8").tobytes()), (*s.member, i)


def caption_pairs(members):
    """((later key, earlier key), (later caption, earlier caption)) per pair in one band's group."""
    for later, earlier in pairs_across_sources(members):
        yield (later[MEMBER_KEY], earlier[MEMBER_KEY]), (later[MEMBER_CAPTION], earlier[MEMBER_CAPTION])


def distinct_sorted(values) -> tuple:
    return tuple(sorted(set(values)))


@dataclasses.dataclass(frozen=True)
class CaptionEdges:
    """A clip's captions that near-duplicate captions of earlier clips: (caption, earlier key,
    earlier caption) per verified pair."""

    key: str
    priority: tuple
    captions: int
    edges: tuple[tuple[int, str, int], ...]


def caption_edges(clip: Summary, earlier, rules: DedupRules) -> Optional[CaptionEdges]:
    """Verify a clip's candidate caption pairs [(earlier Summary, ((i, j), ...))] by MinHash
    Jaccard; None when none is a near-duplicate."""
    mine = [_minhash(t, rules.num_perm) for t in clip.captions]
    edges = []
    for other, pairs in sorted(earlier, key=lambda c: c[0].key):
        theirs = {j: _minhash(other.captions[j], rules.num_perm) for j in sorted({j for _, j in pairs})}
        edges += [(i, other.key, j) for i, j in pairs if mine[i].jaccard(theirs[j]) >= rules.caption_jaccard]
    return CaptionEdges(clip.key, clip.priority, len(clip.captions), tuple(sorted(edges))) if edges else None


def resolve_near_captions(records) -> dict[str, Verdict]:
    """The greedy rule over CaptionEdges records: in priority order, a caption is dropped when it
    near-duplicates a caption still held by a kept clip (the first by 'key#index', as the LSH
    index answered); a clip that loses every caption is a duplicate."""
    out: dict[str, Verdict] = {}
    rejected: set[str] = set()
    dropped: dict[str, tuple[int, ...]] = {}  # kept clips' dropped captions: no longer matched
    for r in sorted(records, key=lambda r: r.priority):
        drop, twin = [], None
        for i in range(r.captions):
            held = [(key, j) for ii, key, j in r.edges
                    if ii == i and key not in rejected and j not in dropped.get(key, ())]
            if held:
                drop.append(i)
                twin = twin or min(held, key=lambda kj: f"{kj[0]}#{kj[1]}")[0]
        if drop and len(drop) == r.captions:
            out[r.key] = Verdict("duplicate_caption", f"every caption near-duplicates one of {twin}", twin)
            rejected.add(r.key)
        elif drop:
            out[r.key] = Verdict(drop_captions=tuple(drop), twin=twin,
                                 detail=f"captions {drop} near-duplicate captions of {twin}")
            dropped[r.key] = tuple(drop)
    return out


@beam.ptransform_fn
def FindNearCaptions(summaries, rules: DedupRules):
    return (summaries
            | "Bands" >> beam.FlatMap(band_members, rules)
            | "GroupBand" >> beam.CombinePerKey(UpTo(rules.max_bucket))
            | "Pairs" >> beam.FlatMapTuple(lambda _, members: caption_pairs(members))
            | "GroupPair" >> beam.GroupByKey()
            | "Distinct" >> beam.MapTuple(lambda pair, captions: (pair, distinct_sorted(captions)))
            | "Verify" >> VerifyPairs(summaries, functools.partial(caption_edges, rules=rules))
            | "AllEdges" >> beam.combiners.ToList()
            | "Resolve" >> beam.FlatMap(lambda records: sorted(resolve_near_captions(records).items())))


def find_near_captions(live, rules: DedupRules) -> dict[str, Verdict]:
    """FindNearCaptions in one process."""
    groups = combine_per_key((kv for s in live for kv in band_members(s, rules)), UpTo(rules.max_bucket))
    pairs = group_by_key((kv for members in groups.values() for kv in caption_pairs(members)), distinct_sorted)
    records = verify_pairs(pairs, live, functools.partial(caption_edges, rules=rules))
    return resolve_near_captions(records)
