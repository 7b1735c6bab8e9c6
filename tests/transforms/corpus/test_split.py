"""Split assignment: deterministic, by group, close to the configured ratios; held-out lists; and
no artist in two splits of a corpus built from MTG-Jamendo validation ids (tests/support/mtg_corpus.py)."""

import collections

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.pipelines.config import ConfigError, load_config
from tunescribe.schemas import Clip, Provenance, SourceItem
from tunescribe.transforms.corpus.split import AssignSplit, ForcedTestGroups, group_of, split_for
from tunescribe.transforms.stage import RunStage


def _clip(artist=None, track=None, source="s"):
    return Clip(key="k_00000", source_id=source, clip_index=0, start_s=0, end_s=1, sample_rate=8000, channels=1,
                provenance=Provenance("m", "a", "v", "h"), artist_id=artist, track_id=track)


def test_group_falls_back_to_finer_ids():
    assert group_of(_clip(artist="a1", track="t1"), "artist_id") == "artist_id=a1"
    assert group_of(_clip(track="t1"), "artist_id") == "track_id=t1"
    assert group_of(_clip(), "artist_id") == "source_id=s"


def test_ratios_are_respected_and_groups_stay_together():
    ratios = {"train": 0.8, "valid": 0.1, "test": 0.1}
    counts = collections.Counter(split_for(f"artist_id=a{i}", ratios) for i in range(20000))
    for name, r in ratios.items():
        assert abs(counts[name] / 20000 - r) < 0.015
    fn = AssignSplit(ratios)
    splits = {next(fn.process(_clip(artist="same", source=f"s{i}"))).split for i in range(50)}
    assert len(splits) == 1


@pytest.fixture(scope="module")
def clips(mtg_corpus):
    return pq.read_table(mtg_corpus.corpus / "clips").to_pylist()


def test_no_artist_appears_in_two_splits(clips):
    splits_of = collections.defaultdict(set)
    for c in clips:
        splits_of[c["artist_id"]].add(c["split"])
    assert len(splits_of) >= 30  # many artists, most with several tracks: a real chance to leak
    assert {a: s for a, s in splits_of.items() if len(s) > 1} == {}
    assert {c["split"] for c in clips} == {"train", "valid", "test"}


def test_a_held_out_track_takes_its_whole_artist_to_test(mtg_corpus, clips):
    artist = (mtg_corpus.root / "forced_artist.txt").read_text()
    held = (mtg_corpus.root / "heldout.txt").read_text().split()[-1]
    theirs = [c for c in clips if c["artist_id"] == artist]
    assert {c["split"] for c in theirs} == {"test"}
    assert len({c["track_id"] for c in theirs}) > 1 and held in {c["track_id"] for c in theirs}


def test_excluded_tracks_are_rejects_not_silently_gone(mtg_corpus, clips):
    cfg = load_config(str(mtg_corpus.config))
    excluded = set(cfg.split.exclude["track_id"])
    assert not excluded & {c["track_id"] for c in clips}
    rejects = pq.read_table(mtg_corpus.corpus / "rejects.parquet").to_pylist()
    held_out = [r for r in rejects if r["reason"] == "held_out"]
    assert held_out and {r["stage"] for r in held_out} == {"split"}
    assert {r["source_id"] for r in held_out} == excluded


def test_splits_follow_the_artist_hash_and_ratios(mtg_corpus, clips):
    cfg = load_config(str(mtg_corpus.config))
    forced = (mtg_corpus.root / "forced_artist.txt").read_text()
    for c in clips:
        if c["artist_id"] != forced:
            assert c["split"] == split_for(f"artist_id={c['artist_id']}", cfg.split.ratios)


def test_force_test_and_exclude_in_a_pipeline():
    items = [SourceItem(source_id=s, uri="u", input_uri="in", order=(0, n), artist_id=a, track_id=t)
             for n, (s, a, t) in enumerate([("s1", "a1", "t1"), ("s2", "a1", "t2"), ("s3", "a2", "t3"),
                                            ("s4", "a3", "t4")])]
    clips = [_clip(artist=i.artist_id, track=i.track_id, source=i.source_id) for i in items]
    ratios = {"train": 1.0, "test": 0.0}  # only forcing can put anything in test
    with beam.Pipeline() as p:
        forced = p | "Items" >> beam.Create(items) | ForcedTestGroups({"track_id": ["t2"]})
        good, bad = p | "Clips" >> beam.Create(clips) | RunStage(
            "split", AssignSplit(ratios, exclude={"track_id": ["t4"]}),
            side_inputs={"forced": beam.pvalue.AsSingleton(forced)})
        assert_that(good | beam.Map(lambda c: (c.source_id, c.split)),
                    equal_to([("s1", "test"), ("s2", "test"), ("s3", "train")]), label="splits")
        assert_that(bad | beam.Map(lambda r: (r.source_id, r.stage, r.reason)),
                    equal_to([("s4", "split", "held_out")]), label="rejects")


def test_config_reads_id_files_and_checks_split_names(tmp_path):
    (tmp_path / "ids.txt").write_text("# comment\nt1\n\n t2 \n")
    base = "name: x\noutput: out\ninputs: [{type: folder, path: .}]\n"
    (tmp_path / "ok.yaml").write_text(base + "split: {force_test: {track_id: ids.txt}, exclude: {artist_id: [a9]}}\n")
    cfg = load_config(str(tmp_path / "ok.yaml"))
    assert cfg.split.force_test == {"track_id": ["t1", "t2"]} and cfg.split.exclude == {"artist_id": ["a9"]}
    # The ids are part of the config hash: another list, another ledger (nothing stale is restored).
    (tmp_path / "ids.txt").write_text("t1\n")
    assert load_config(str(tmp_path / "ok.yaml")).config_hash() != cfg.config_hash()
    for bad, message in [
        ("split: {ratios: {train: 1, Test-Set: 1}}", "shard file names"),
        ("split: {ratios: {train: 1}, force_test: {track_id: [t]}}", "needs a `test` split"),
        ("split: {force_test: {track_id: missing.txt}}", "cannot read id list"),
        ("split: {exclude: {genre: [x]}}", "split.exclude.genre"),
    ]:
        (tmp_path / "bad.yaml").write_text(base + bad + "\n")
        with pytest.raises(ConfigError, match=message):
            load_config(str(tmp_path / "bad.yaml"))
