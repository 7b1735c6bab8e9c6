"""Finds duplicate clips among those that passed every per-clip rule, and picks who stays.

Three kinds, checked in this order, each on what the previous left:
  - exact audio: equal `audio_hash` (the PCM at 16 bits, not the file bytes);
  - near-duplicate audio: fingerprints (fingerprint.py) that agree at some offset with a bit error
    rate <= max_ber over at least min_overlap_s (or, for shorter clips, most of the clip);
  - near-duplicate captions (off unless caption_jaccard is set): MinHash over word 3-grams; a
    caption as good as equal to one of an earlier kept clip of another source is dropped, and a
    clip left without captions is a duplicate.

Who stays (the documented rule): clips are visited longest first, ties by key; a clip is kept
unless at least `min_coverage` of its informative frames are found in clips of other sources kept
before it (a chorus repeated inside one track is music, not duplicated data). Coverage is the union
of the matched spans of its (up to MAX_CHECKED) best-voted candidates among the kept clips. So of a
track and its trimmed, resampled or re-encoded copy, the longer audio stays, and different parts of
one track (e.g. a verse and its repeat) are never merged unless they really are the same audio.
Each duplicate names its twin (the kept clip that covers most of it).

Stats (hash, fingerprint, caption text) are stored; this decision is cheap and re-runs with new
thresholds (`tunescribe filter`). It is built of keyed steps, so no worker holds every clip:

  exact audio   (audio_hash, member) -> group per hash -> all but the first by priority are
                duplicates of it.
  near audio    1. per clip, (sub-fingerprint value, member) for each distinct informative value
                   among the 1 in VALUE_SAMPLE picked by a hash of the value (copies share many
                   values, so they share sampled ones: 134/134 planted copies found at 4, 131 at 8);
                2. per value, its members, or nothing once more than `max_bucket` clips hold it
                   (a frequent value carries no identity; counted with a bounded combiner, so a
                   value held by 10^5 clips never sits on one worker); within a group, each pair
                   of clips of different sources. The count is over every clip in the pass, not
                   only those kept so far as when dedup ran on one worker: the same verdicts at
                   the default 200, but a piece with more than max_bucket near-copies (not exact:
                   those go first) shares no countable value and is not found by audio;
                3. votes per pair (shared values); pairs with >= MIN_VOTES are candidates;
                4. each candidate is verified with `fingerprint.same_audio`: the earlier clip's
                   fingerprint is joined on by key, then the pairs of one later clip meet its own
                   fingerprint (two CoGroupByKeys), giving per clip an `AudioEdges` record: its
                   candidates ranked by votes, with the matched span where the audio agrees;
                5. the resolver replays the greedy rule from the records alone (no fingerprints).
  near captions the same with MinHash bands as values (a band value held by more than
                `max_bucket` captions is skipped too: a template caption carries no identity, and
                its group would make pairs quadratic in the corpus), every shared band is a
                candidate (as in MinHash LSH), verified by the MinHash Jaccard estimate.

The resolvers gather the records on ONE worker; only clips with a verified match have a record
(clips without one are kept, so they never reach it). Why not per connected component: the
components of the match graph need iterative label propagation in Beam, a full shuffle per round
and as many rounds as the longest chain; the records are small and few (below), so one worker is
the cheaper step. The resolvers give the same verdicts on any subset closed under edges, so
splitting them by component is the next step if records ever outgrow a worker.

`find_duplicates` runs the same functions in one process (`tunescribe filter --dry-run`, tests);
`FindDuplicates` (find_duplicates.py) is the Beam transform. Every step sorts what depends on order, so verdicts do not
depend on the runner, bundle splits or input order.

Memory, measured on the planted corpus (tests/transforms/quality/test_dedup.py), per 10 s clip and at 10^6 clips:
  - exact audio: a hash group holds every clip with that PCM, ~100 bytes each.
  - Summary: ~4.9 kB pickled (the fingerprint: 414 frames of 8 bytes, 4.4 kB in base64) plus
    captions; ~5 GB at 10^6, never gathered: a join group holds one clip and its candidates.
  - values: ~390 distinct values a clip, of which ~100 sampled: (value, member) records of ~100
    bytes, ~10 kB a clip: ~10 GB shuffled at 10^6, spread over workers (the step's main cost). A group holds at most max_bucket + 1 members
    (~20 kB) however frequent its value, and makes at most max_bucket^2 / 2 pairs (20k).
    Captions: one record of ~150 bytes per band (14 bands at caption_jaccard 0.7) per caption.
  - verification: a clip's summary and one per candidate (~5 kB each): 100 candidates ~0.5 MB.
  - resolver: an AudioEdges record takes ~400 bytes + ~170 per candidate in memory (about a fifth
    of that pickled), a CaptionEdges ~300 + ~80 per edge, and only clips with a verified match have
    one: 10^5 near-duplicates with 6 candidates each (the planted corpus's mean) ~140 MB; the worst
    case, all 10^6 clips with 10 candidates each, ~2 GB.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import defaultdict
from typing import NamedTuple, Optional

import apache_beam as beam
import numpy as np

from tunescribe.schemas import Clip
from tunescribe.transforms.quality import fingerprint as fp

VALUE_SAMPLE = 4
MIN_VOTES = 2  # shared sub-fingerprint values that make two clips a candidate pair
MAX_CHECKED = 20  # best-voted kept candidates whose matched spans count toward a clip's coverage


@dataclasses.dataclass(frozen=True)
class DedupRules:
    exact_audio: bool = True
    max_ber: Optional[float] = 0.1  # None: no near-duplicate audio check (copies measure <= 0.02)
    min_overlap_s: float = 5.0
    min_coverage: float = 0.5
    max_bucket: int = 200  # sub-fingerprint values (MinHash bands) shared by more clips (captions) carry no identity
    caption_jaccard: Optional[float] = None  # e.g. 0.9; None: captions are not deduplicated
    num_perm: int = 128


@dataclasses.dataclass(frozen=True)
class Summary:
    """What dedup needs of a clip: no audio, only its stored identity stats."""

    key: str
    source_id: str
    duration_s: float
    audio_hash: Optional[str]
    fingerprint: Optional[str]
    captions: tuple[str, ...]

    @staticmethod
    def of(clip: Clip) -> "Summary":
        return Summary(clip.key, clip.source_id, clip.duration_s, clip.audio_hash, clip.fingerprint,
                       tuple(c.text for c in clip.captions))

    @property
    def priority(self) -> tuple:
        return (-round(self.duration_s, 3), self.key)

    @property
    def member(self) -> tuple:
        """(priority..., source_id): what a group needs of a clip; members sort in visiting order."""
        return (*self.priority, self.source_id)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A clip's dedup outcome: rejected with (reason, detail, twin), or captions to drop."""

    reason: Optional[str] = None
    detail: str = ""
    twin: Optional[str] = None
    drop_captions: tuple[int, ...] = ()


# Member tuples: (rank, key, source_id) for audio, (rank, key, source_id, caption index) for captions.
_KEY, _SOURCE, _CAPTION = 1, 2, 3


# ---------------------------------------------------------------------------------------------
# Grouping by value: shared by the Beam transform and the in-process function.


class UpTo(beam.CombineFn):
    """The members sharing one value, sorted; None once more than `limit` share it. Bounded: a
    frequent value never collects its members, and merges of partial groups in any order and
    split give the same answer."""

    def __init__(self, limit: int):
        self.limit = limit

    def create_accumulator(self):
        return []

    def add_input(self, members, member):
        if members is None:
            return None
        members.append(member)
        return members if len(members) <= self.limit else None

    def merge_accumulators(self, accumulators):
        merged = []
        for members in accumulators:
            if members is None:
                return None
            merged.extend(members)
            if len(merged) > self.limit:
                return None
        return merged

    def extract_output(self, members):
        return None if members is None else tuple(sorted(members))


def pairs_across_sources(members):
    """(later, earlier) for each two members of different sources, in visiting order."""
    for i, later in enumerate(members or ()):
        for earlier in members[:i]:
            if earlier[_SOURCE] != later[_SOURCE]:  # repeats inside one track are music, not duplicates
                yield later, earlier


# ---------------------------------------------------------------------------------------------
# Exact audio.


def hash_members(s: Summary):
    if s.audio_hash:
        yield s.audio_hash, s.member


def exact_duplicates(members):
    """(key, Verdict) for every member of one audio_hash group but the first by priority."""
    first, *others = sorted(members)
    for m in others:
        yield m[_KEY], Verdict("duplicate_audio", f"same PCM as {first[_KEY]}", first[_KEY])


# ---------------------------------------------------------------------------------------------
# Near-duplicate audio.


def sampled(value: int) -> bool:
    """Whether a sub-fingerprint value is one of the 1 in VALUE_SAMPLE that candidate search
    indexes: chosen by a hash of the value alone, so two copies of the same audio sample the same
    values, and the step that groups values shuffles VALUE_SAMPLE times fewer records."""
    return (value * 0x9E3779B1) & 0xFFFFFFFF < 2**32 // VALUE_SAMPLE


def value_members(s: Summary):
    """(sub-fingerprint value, member) for each distinct informative sampled value of the clip."""
    member = s.member
    for v in sorted(fp.keys(fp.decode(s.fingerprint))):
        if sampled(v):
            yield v, member


def audio_pairs(members):
    """((later key, earlier key), 1) per pair in one value's group: one vote."""
    for later, earlier in pairs_across_sources(members):
        yield (later[_KEY], earlier[_KEY]), 1


def is_candidate(votes: int) -> bool:
    return votes >= MIN_VOTES


class Candidate(NamedTuple):
    """An earlier clip that shares values with a clip; span/ber set when the audio matches."""

    key: str
    votes: int
    span: Optional[tuple[int, int]]  # the clip's frames [start, end) found in `key`
    ber: float = 0.0

    @property
    def frames(self) -> int:
        return self.span[1] - self.span[0] if self.span else 0


@dataclasses.dataclass(frozen=True)
class AudioEdges:
    """A clip's candidates among earlier clips, best-voted first, trailing misses cut: all the
    resolver needs of it (no fingerprint)."""

    key: str
    priority: tuple
    frames: int
    informative: tuple[tuple[int, int], ...]  # runs [start, end) of frames with a reliable bit
    candidates: tuple[Candidate, ...]


def _runs(mask: np.ndarray) -> tuple[tuple[int, int], ...]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))


def _mask(runs, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for a, b in runs:
        out[a:b] = True
    return out


def audio_edges(clip: Summary, earlier, rules: DedupRules) -> Optional[AudioEdges]:
    """Verify a clip against its candidates [(earlier Summary, votes)]; None when none matches."""
    a = fp.decode(clip.fingerprint)
    checked = []
    for other, votes in sorted(earlier, key=lambda c: (-c[1], c[0].key)):  # the resolver's order
        m = fp.same_audio(a, fp.decode(other.fingerprint), rules.max_ber, rules.min_overlap_s, rules.min_coverage)
        checked.append(Candidate(other.key, votes, m.a_span, m.ber) if m else Candidate(other.key, votes, None))
    # A miss after the last match cannot change the outcome; one before it may take a checked slot.
    while checked and checked[-1].span is None:
        checked.pop()
    if not checked:
        return None
    return AudioEdges(clip.key, clip.priority, len(a), _runs(fp.informative(a)), tuple(checked))


def resolve_near_audio(records, rules: DedupRules) -> dict[str, Verdict]:
    """The greedy keep rule over AudioEdges records: visit in priority order; a clip's coverage
    is the union of spans matched in its MAX_CHECKED best-voted candidates still kept."""
    out: dict[str, Verdict] = {}
    for r in sorted(records, key=lambda r: r.priority):
        checked = [c for c in r.candidates if c.key not in out][:MAX_CHECKED]
        covered = np.zeros(r.frames, dtype=bool)
        best = None
        for c in checked:
            if c.span is None:
                continue
            covered[c.span[0]:c.span[1]] = True
            if best is None or c.frames > best.frames:
                best = c
        useful = _mask(r.informative, r.frames)
        valid = int(np.count_nonzero(useful))
        coverage = float(np.count_nonzero(covered & useful)) / valid if valid else 0.0
        if best is not None and coverage >= rules.min_coverage:
            out[r.key] = Verdict("duplicate_audio_near", f"{coverage:.0%} of it matches {best.key} "
                                 f"(bit error rate {best.ber:.3f} over {best.frames * fp.HOP_S:.1f} s)", best.key)
    return out


# ---------------------------------------------------------------------------------------------
# Near-duplicate captions.

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
        yield (later[_KEY], earlier[_KEY]), (later[_CAPTION], earlier[_CAPTION])


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


# ---------------------------------------------------------------------------------------------
# In one process.


def find_duplicates(summaries, rules: DedupRules) -> dict[str, Verdict]:
    """key -> Verdict for every clip that is a duplicate or loses a caption; others are absent.
    The same steps as FindDuplicates, in one process."""
    live = sorted(summaries, key=lambda s: s.priority)
    verdicts: dict[str, Verdict] = {}
    if rules.exact_audio:
        groups = _group((kv for s in live for kv in hash_members(s)), list)
        verdicts.update(kv for members in groups.values() for kv in exact_duplicates(members))
        live = [s for s in live if s.key not in verdicts]
    if rules.max_ber is not None:
        verdicts.update(_near_audio_in_process(live, rules))
        live = [s for s in live if s.key not in verdicts]
    if rules.caption_jaccard is not None:
        verdicts.update(_near_captions_in_process(live, rules))
    return verdicts


def _group(pairs, finish) -> dict:
    """GroupByKey in one process: key -> finish(values)."""
    groups = defaultdict(list)
    for k, v in pairs:
        groups[k].append(v)
    return {k: finish(vs) for k, vs in groups.items()}


def _combine(pairs, fn: beam.CombineFn) -> dict:
    """CombinePerKey in one process."""
    accumulators = {}
    for k, v in pairs:
        accumulators[k] = fn.add_input(accumulators[k] if k in accumulators else fn.create_accumulator(), v)
    return {k: fn.extract_output(a) for k, a in accumulators.items()}


def _verify(pairs: dict, live, build) -> list:
    """The two joins in one process: build(later Summary, [(earlier Summary, info)]) per clip."""
    by_key = {s.key: s for s in live}
    earlier = _group((((later, (by_key[e], info)) for (later, e), info in pairs.items())), list)
    return [r for later, cands in sorted(earlier.items()) if (r := build(by_key[later], cands)) is not None]


def _near_audio_in_process(live, rules: DedupRules) -> dict[str, Verdict]:
    groups = _combine((kv for s in live for kv in value_members(s)), UpTo(rules.max_bucket))
    votes = _group((kv for members in groups.values() for kv in audio_pairs(members)), sum)
    candidates = {pair: n for pair, n in votes.items() if is_candidate(n)}
    records = _verify(candidates, live, functools.partial(audio_edges, rules=rules))
    return resolve_near_audio(records, rules)


def _near_captions_in_process(live, rules: DedupRules) -> dict[str, Verdict]:
    groups = _combine((kv for s in live for kv in band_members(s, rules)), UpTo(rules.max_bucket))
    pairs = _group((kv for members in groups.values() for kv in caption_pairs(members)), distinct_sorted)
    records = _verify(pairs, live, functools.partial(caption_edges, rules=rules))
    return resolve_near_captions(records)


# ---------------------------------------------------------------------------------------------
# In Beam.
