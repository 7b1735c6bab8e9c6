"""Duplicates planted as re-encoded, resampled, gain-changed and trimmed copies of audio-dev clips
are found; distinct clips (other pieces, and other parts of the same piece) are not merged; the Beam
transform (keyed steps on the DirectRunner) gives exactly the in-process verdicts."""

from __future__ import annotations

import dataclasses
import io
import random

import apache_beam as beam
import av
import numpy as np
import pytest
import soundfile as sf
import soxr
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.schemas import Caption, Clip, Provenance
from tunescribe.transforms.audio.decode import decode_audio
from tunescribe.transforms.audio.segment import window_bounds
from tunescribe.transforms.quality import fingerprint as fp
from tunescribe.transforms.quality.decontaminate import EvalIndex, EvalSet, contamination
from tunescribe.transforms.quality.duplicates import Summary, UpTo
from tunescribe.transforms.quality.find_duplicates import FindDuplicates, find_duplicates
from tunescribe.transforms.quality.near_audio import audio_pairs
from tunescribe.transforms.quality.settings import DedupRules

RATE = 48000
MUSIC = ["bach_bwv1_6.ogg", "bach_bwv66_6.ogg", "corelli_opus3no1_1grave.ogg", "joplin_maple_leaf_rag.ogg",
         "drascula_track1.ogg", "drascula_track10.ogg", "drascula_track11.ogg", "drascula_track12.ogg"]


def lossy(x: np.ndarray, rate: int, codec: str, fmt: str, bit_rate: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout, stream.bit_rate = "mono", bit_rate
        frame = av.AudioFrame.from_ndarray(x[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def wav(x: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def copies(x: np.ndarray) -> dict[str, bytes]:
    """The planted duplicates of one decoded source (mono float at RATE)."""
    trim = int(3.3 * RATE)
    return {
        "same_pcm_float_wav": wav(x, RATE, "FLOAT"),
        "mp3_96k": lossy(x, RATE, "libmp3lame", "mp3", 96000),
        "mp3_64k": lossy(x, RATE, "libmp3lame", "mp3", 64000),
        "opus_48k": lossy(x, RATE, "libopus", "ogg", 48000),
        "aac_128k": lossy(x, RATE, "aac", "adts", 128000),
        "resampled_22k": wav(soxr.resample(x, RATE, 22050), 22050),
        "gain_minus_6db": wav(x * 0.5, RATE),
        "gain_plus_3db": wav(np.clip(x * 1.41, -1, 1), RATE),
        "trimmed_3s": wav(x[trim:-trim // 2], RATE),
    }


def clips_of(name: str, source, window_s: float = 10.0) -> list[Clip]:
    samples = decode_audio(source, RATE, 1)
    out = []
    for i, (lo, hi) in enumerate(window_bounds(samples.shape[1], RATE, window_s, window_s, "keep", 2.0)):
        pcm = samples[:, lo:hi]
        out.append(Clip(key=f"{name}_{i:05d}", source_id=name, clip_index=i, start_s=lo / RATE, end_s=hi / RATE,
                        sample_rate=RATE, channels=1, provenance=Provenance("dev", name, "t", "h"),
                        captions=(Caption("a piece of music", "t", "t", "p", "1"),),
                        audio_hash=fp.pcm_hash(pcm), fingerprint=fp.fingerprint(pcm, RATE)))
    return out


@pytest.fixture(scope="module")
def corpus(audio_dev):
    originals, planted = [], {}
    for name in MUSIC:
        originals += clips_of(name, str(audio_dev / name))
    for name in MUSIC[:4] + MUSIC[5:6]:
        x = decode_audio(str(audio_dev / name), RATE, 1)[0]
        for kind, data in copies(x).items():
            planted[f"{kind}.{name}"] = clips_of(f"{kind}.{name}", io.BytesIO(data))
    return originals, planted


def _piece(clip_key: str) -> str:
    """The original piece a clip's audio is from: `<kind>.<piece>_<n>` for copies, `<piece>_<n>`."""
    source = clip_key.rsplit("_", 1)[0]
    return source if source in MUSIC else source.split(".", 1)[1]


def test_planted_copies_found_and_distinct_clips_kept(corpus):
    originals, planted = corpus
    everything = originals + [c for cs in planted.values() for c in cs]
    verdicts = find_duplicates([Summary.of(c) for c in everything], DedupRules())
    # Distinct clips are never merged: every duplicate's twin is audio of the same piece.
    merged_across = {k: v.twin for k, v in verdicts.items() if _piece(v.twin) != _piece(k)}
    # Of a copy and its original one stays and the other names it (or another copy of the piece).
    named = {v.twin for v in verdicts.values()}
    by_kind: dict[str, list[bool]] = {}
    for source, clips in planted.items():
        kind = source.split(".", 1)[0]
        for c in clips:
            v = verdicts.get(c.key)
            found = (v is not None and v.reason is not None and _piece(v.twin) == _piece(c.key)) or c.key in named
            by_kind.setdefault(kind, []).append(found)
            if not found:
                print("not found:", c.key, c.duration_s, v)
    found = sum(sum(v) for v in by_kind.values())
    total = sum(len(v) for v in by_kind.values())
    print(f"\nplanted duplicate clips found: {found}/{total}")
    for kind, hits in by_kind.items():
        print(f"  {kind:20s} {sum(hits)}/{len(hits)}")
    print(f"distinct clips merged: {len(merged_across)} of {len(everything)} clips "
          f"({len(originals)} originals of {len(MUSIC)} pieces)")
    assert merged_across == {}
    assert found == total
    # Dedup keeps one representative: no piece loses all of its audio.
    kept = [c for c in everything if c.key not in verdicts or verdicts[c.key].reason is None]
    assert {_piece(c.key) for c in kept} == set(MUSIC)


def test_each_original_source_keeps_its_clips_when_alone(corpus):
    originals, _ = corpus
    verdicts = find_duplicates([Summary.of(c) for c in originals], DedupRules())
    # bach_bwv1_6 repeats its first phrase (clips 0 and 2 are the same rendered audio): repeats
    # inside one track are music, not duplicates, so nothing is merged.
    assert verdicts == {}
    a, b = (fp.decode(c.fingerprint) for c in originals if c.source_id == "bach_bwv1_6.ogg" and c.clip_index in (0, 2))
    assert fp.match(a, b).ber < 0.1


def test_exact_duplicate_is_the_pcm_not_the_file(corpus, audio_dev):
    originals, planted = corpus
    same = planted["same_pcm_float_wav.bach_bwv1_6.ogg"]
    orig = [c for c in originals if c.source_id == "bach_bwv1_6.ogg"]
    assert [c.audio_hash for c in same] == [c.audio_hash for c in orig]
    assert [c.audio_hash for c in planted["gain_minus_6db.bach_bwv1_6.ogg"]] != [c.audio_hash for c in orig]
    verdicts = find_duplicates([Summary.of(c) for c in orig + same], DedupRules(max_ber=None))
    assert {v.reason for v in verdicts.values()} == {"duplicate_audio"} and len(verdicts) == len(orig)


def test_fingerprint_ignores_silence():
    silent = np.zeros((1, RATE * 10), dtype=np.float32)
    a = fp.decode(fp.fingerprint(silent, RATE))
    assert len(a) > 0 and not a.any()
    assert fp.match(a, a) is None


def test_decontamination_by_id_and_by_audio(corpus):
    originals, planted = corpus
    target = planted["mp3_96k.joplin_maple_leaf_rag.ogg"]
    evals = EvalIndex([EvalSet("musiccaps-eval", frozenset({"-0Gj8-vB1q4"})),
                       EvalSet("song-describer", frozenset(), (("track-7", target[1].fingerprint),))])
    by_id = Clip(key="k_00000", source_id="-0Gj8-vB1q4", clip_index=0, start_s=0, end_s=10, sample_rate=RATE,
                 channels=1, provenance=Provenance("m", "https://www.youtube.com/watch?v=-0Gj8-vB1q4", "t", "h"))
    assert contamination(by_id, evals)[0] == "eval_id"
    hits = {c.key: contamination(c, evals) for c in originals if c.source_id == "joplin_maple_leaf_rag.ogg"}
    assert hits[f"joplin_maple_leaf_rag.ogg_{1:05d}"][0] == "eval_audio"
    assert all(contamination(c, evals) is None for c in originals if c.source_id != "joplin_maple_leaf_rag.ogg")


WORDS = "bright piano melody slow tempo with soft strings and a gentle drum beat in minor key over warm bass".split()
SENTENCES = [" ".join(random.Random(n).sample(WORDS, 12)) for n in range(40)]


def with_varied_captions(s: Summary) -> Summary:
    """1-3 captions from a small pool, some with a word added: many near-duplicates across sources."""
    r = random.Random(s.key)
    captions = [r.choice(SENTENCES) + (" " + r.choice(WORDS) if r.random() < 0.3 else "")
                for _ in range(r.randint(1, 3))]
    return dataclasses.replace(s, captions=tuple(captions))


def test_beam_gives_the_in_process_verdicts(corpus):
    originals, planted = corpus
    summaries = [with_varied_captions(Summary.of(c)) for c in originals + [c for cs in planted.values() for c in cs]]
    rule_sets = {"audio": DedupRules(), "captions": DedupRules(caption_jaccard=0.7),
                 "captions_only": DedupRules(exact_audio=False, max_ber=None, caption_jaccard=0.5)}
    want = {name: find_duplicates(summaries, rules) for name, rules in rule_sets.items()}
    assert {v.reason for v in want["captions"].values()} >= {"duplicate_audio", "duplicate_audio_near",
                                                           "duplicate_caption", None}
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_threading"])
    with beam.Pipeline(options=options) as p:
        # Reversed input: the transform must not depend on the order clips arrive in.
        clips = p | beam.Create(summaries[::-1], reshuffle=True)
        for name, rules in rule_sets.items():
            got = clips | f"Find_{name}" >> FindDuplicates(rules)
            assert_that(got, equal_to(sorted(want[name].items())), label=f"Same_{name}")
    print(f"\nBeam == in-process: {', '.join(f'{n} {len(v)} verdicts' for n, v in want.items())}")


def test_a_value_held_by_more_than_max_bucket_clips_makes_no_pairs(corpus):
    members = [(-10.0, f"k{i}", f"s{i}") for i in range(3)]
    assert len(list(audio_pairs(_grouped(members, UpTo(3))))) == 3
    assert _grouped(members, UpTo(2)) is None and list(audio_pairs(None)) == []
    # A piece and its MP3: every shared value is held by both clips, so with max_bucket 1 none
    # carries identity and the copy is not found; with 2 it is.
    originals, planted = corpus
    pair = [Summary.of(c) for c in originals + planted["mp3_96k.bach_bwv66_6.ogg"]
            if c.source_id.endswith("bach_bwv66_6.ogg")]
    assert find_duplicates(pair, DedupRules.model_construct(max_bucket=1)) == {}  # below the config's floor of 2
    assert len(find_duplicates(pair, DedupRules(max_bucket=2))) == len(pair) // 2


def _grouped(members, fn: UpTo):
    return fn.extract_output(_add_all(fn, members))


def _add_all(fn, members):
    acc = fn.create_accumulator()
    for m in members:
        acc = fn.add_input(acc, m)
    return acc


def test_grouping_does_not_depend_on_input_order_or_bundles(corpus):
    members = [(-round(10 - i / 7, 3), f"k{i:03d}", f"s{i % 5}") for i in range(40)]
    fn = UpTo(200)
    want = _grouped(members, fn)
    for seed in range(5):
        shuffled = random.Random(seed).sample(members, len(members))
        cuts = sorted(random.Random(seed).sample(range(1, len(members)), 3))
        bundles = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(members)])]
        got = fn.extract_output(fn.merge_accumulators([_add_all(fn, b) for b in bundles[::-1]]))
        assert got == want and list(audio_pairs(got)) == list(audio_pairs(want))
    # Over the bound, any split says "no identity".
    small = UpTo(30)
    assert small.merge_accumulators([_add_all(small, members[:20]), _add_all(small, members[20:])]) is None
    originals, planted = corpus
    summaries = [with_varied_captions(Summary.of(c)) for c in originals + [c for cs in planted.values() for c in cs]]
    rules = DedupRules(caption_jaccard=0.7)
    shuffled = random.Random(1).sample(summaries, len(summaries))
    assert find_duplicates(shuffled, rules) == find_duplicates(summaries, rules)
