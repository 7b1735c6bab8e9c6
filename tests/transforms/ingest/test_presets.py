"""Presets read the real MusicCaps and MTG-Jamendo manifests whole; MagnaTagATune's tag matrix too."""

import csv

import pytest

from tunescribe.pipelines.config import ManifestInput
from tunescribe.transforms.ingest.manifest import ParseManifestRow, ReadManifest
from tunescribe.transforms.ingest.presets import PRESETS
from tunescribe.transforms.ingest.vocabulary import categorise
from tunescribe.transforms.stage import Rejected


def read_all(path, preset, audio_root="/audio", **columns):
    """Every row through the preset's reader and parser: (items, rejects)."""
    fmt, mapping = ManifestInput(type="manifest", path=str(path), preset=preset, columns=columns).reading()
    parse = ParseManifestRow(mapping, audio_root, 0)
    items, rejects = [], []
    for row in ReadManifest(fmt).process(str(path)):
        try:
            items.extend(parse.process(row))
        except Rejected as exc:
            rejects.append((row.row_number, exc.reason))
    return items, rejects


def test_config_offers_every_preset():
    literal = ManifestInput.model_fields["preset"].annotation.__args__[0].__args__
    assert set(literal) == set(PRESETS)


def test_musiccaps_reads_all_5521_rows(shared_data):
    path = shared_data / "musiccaps" / "musiccaps-public.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    items, rejects = read_all(path, "musiccaps")
    assert len(rows) == len(items) == 5521 and rejects == []
    assert len({i.key for i in items}) == 5521  # our keys: hash of id + range, one per row
    for row, item in zip(rows, items):
        assert item.source_id == row["ytid"] and item.uri == f"https://www.youtube.com/watch?v={row['ytid']}"
        assert (item.start_s, item.end_s) == (float(row["start_s"]), float(row["end_s"]))
        # the human caption is a reference caption, not a pseudo-caption
        (caption,) = item.captions
        assert (caption.text, caption.task, caption.backend, caption.prompt_id) == (
            row["caption"].strip(), "reference", "human", "caption")
    aspects = sum(len(set(map(categorise, eval(r["aspect_list"])))) for r in rows)  # noqa: S307 - test data
    assert sum(len(i.tags) for i in items) == aspects > 5521 * 5


def test_mtg_jamendo_reads_every_tag_of_every_row(shared_data):
    path = shared_data / "mtg-jamendo" / "autotagging-validation.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    raw = [line.split("\t")[5:] for line in lines]
    assert sum(map(len, raw)) == 52617  # tag cells in the file, counted from the text
    items, rejects = read_all(path, "mtg-jamendo", audio_root="/jamendo")
    assert len(items) == len(lines) == 11101 and rejects == []
    assert sum(len(i.tags) for i in items) == 52617  # every one of them, none merged or lost
    for cells, item in zip(raw, items):
        assert [(t.category, t.name) for t in item.tags] == [categorise(c)[::-1] for c in cells]
    first = items[0]
    assert (first.source_id, first.track_id, first.artist_id, first.album_id, first.uri) == (
        "track_0000773", "track_0000773", "artist_000104", "album_000126", "/jamendo/73/773.mp3")
    by_category = {}
    for item in items:
        for tag in item.tags:
            by_category[tag.category] = by_category.get(tag.category, 0) + 1
    assert by_category == {"genre": 27826, "instrument": 18485, "mood": 6306}


def test_magnatagatune_tag_matrix(tmp_path):
    # annotations_final.csv: TAB-separated, quoted cells, one 0/1 column per tag
    path = tmp_path / "annotations_final.csv"
    path.write_text('"clip_id"\t"no voice"\t"singer"\t"clasical"\t"guitar"\t"mp3_path"\n'
                    '"2"\t"1"\t"0"\t"1"\t"0"\t"f/a-01-0-29.mp3"\n'
                    '"6"\t"0"\t"1"\t"0"\t"1"\t"f/a-01-30-59.mp3"\n'
                    '"9"\t"0"\t"0"\t"0"\t"0"\t""\n')
    items, rejects = read_all(path, "magnatagatune", audio_root="/mtt")
    assert [(i.source_id, i.uri, [(t.name, t.category) for t in i.tags]) for i in items] == [
        ("2", "/mtt/f/a-01-0-29.mp3", [("no vocals", "vocals"), ("classical", "genre")]),
        ("6", "/mtt/f/a-01-30-59.mp3", [("vocals", "vocals"), ("guitar", "instrument")]),
    ]
    assert rejects == [(3, "bad_manifest_row")]  # no mp3_path: rejected, not dropped


def test_columns_given_with_a_preset_replace_the_presets(tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text("ytid,start_s,end_s,aspect_list,caption,lic\nabc,0,10,\"['rock']\",A rock song.,CC-BY\n")
    (item,), _ = read_all(path, "musiccaps", licence="lic")
    assert item.licence == "CC-BY" and item.captions[0].text == "A rock song." and item.tags[0].name == "rock"


def test_generic_preset_needs_no_audio_column_guess(tmp_path):
    with pytest.raises(ValueError, match="set `path` or `youtube_id`"):
        ManifestInput(type="manifest", path="m.csv", columns={"path": None})
