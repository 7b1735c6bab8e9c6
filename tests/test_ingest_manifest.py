"""Manifest reading: rows stream out lazily; each bad row is a reject, the good rows still land."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.transforms.ingest.manifest import (
    ColumnMapping, ManifestRow, ParseManifestRow, ReadManifest, manifest_format,
)
from tunescribe.transforms.stage import Rejected, RunStage


def parse(cells, columns=ColumnMapping(), root="/audio", raw=""):
    return list(ParseManifestRow(columns, root, 0, licence="CC0").process(ManifestRow("m.csv", 1, cells, raw)))


def test_row_becomes_source_item_with_mapped_columns():
    columns = ColumnMapping(path="file", id="uid", artist="who", tags=("genre", "mood"), start="s", end="e",
                            tag_separator=";")
    (item,) = parse({"file": "a/b.ogg", "uid": "t1", "who": "ar9", "genre": "Rock;Indie  Pop", "mood": '["happy"]',
                     "s": "1.5", "e": "11.5"}, columns)
    assert item.source_id == "t1" and item.uri == "/audio/a/b.ogg" and item.artist_id == "ar9"
    assert [t.name for t in item.tags] == ["rock", "indie pop", "happy"]
    assert (item.start_s, item.end_s, item.licence) == (1.5, 11.5, "CC0")


def test_absolute_paths_and_urls_are_kept():
    assert parse({"path": "/data/x.wav"})[0].uri == "/data/x.wav"
    assert parse({"path": "https://h/x.mp3"})[0].uri == "https://h/x.mp3"


@pytest.mark.parametrize("cells,reason", [
    ({"path": ""}, "bad_manifest_row"),
    ({"path": "a.ogg", "start": "soon"}, "bad_time_range"),
    ({"path": "a.ogg", "start": "5", "end": "2"}, "bad_time_range"),
    ({"path": "a.ogg", "start": "nan"}, "bad_time_range"),
    ({"path": "a\udcff.ogg"}, "bad_encoding"),
    ({"path": "a.ogg", None: ["surplus"]}, "bad_manifest_row"),
])
def test_bad_rows_are_rejected_with_a_reason(cells, reason):
    with pytest.raises(Rejected) as exc:
        parse(cells, ColumnMapping(start="start", end="end"))
    assert exc.value.reason == reason


def test_bad_json_line_is_rejected():
    with pytest.raises(Rejected) as exc:
        parse(None, raw="{not json")
    assert exc.value.reason == "bad_manifest_row"


def test_format_from_extension():
    assert [manifest_format(p) for p in ("a.csv", "b.TSV", "c.jsonl", "d.ndjson")] == ["csv", "tsv", "jsonl", "jsonl"]


def test_pipeline_reads_good_rows_and_rejects_bad_ones(tmp_path):
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps({"path": "a.ogg"}), "{broken", json.dumps({"path": "b.ogg", "start": "x"}), "",
             json.dumps({"path": "c.ogg"})]
    manifest.write_bytes(("\n".join(lines) + "\n").encode() + b'{"path": "\xff\xfe.ogg"}\n')
    with beam.Pipeline() as p:
        rows, bad_manifest = p | beam.Create([str(manifest), str(tmp_path / "absent.csv")]) | "Read" >> RunStage(
            "ingest", ReadManifest())
        items, bad_rows = rows | "Parse" >> RunStage(
            "ingest", ParseManifestRow(ColumnMapping(start="start"), str(tmp_path), 0))
        assert_that(items | beam.Map(lambda i: (i.source_id, i.order)), equal_to([("a.ogg", (0, 1)), ("c.ogg", (0, 5))]),
                    label="items")
        assert_that(bad_rows | beam.Map(lambda r: (r.source_id.rsplit("/", 1)[1], r.reason)), equal_to([
            ("m.jsonl#2", "bad_manifest_row"), ("m.jsonl#3", "bad_time_range"), ("m.jsonl#6", "bad_encoding"),
        ]), label="rows")
        assert_that(bad_manifest | beam.Map(lambda r: r.reason), equal_to(["missing_manifest"]), label="manifest")


def test_csv_and_tsv_are_read_with_their_delimiters(tmp_path):
    (tmp_path / "m.csv").write_text('path,tags\na.ogg,"rock,pop"\n')
    (tmp_path / "m.tsv").write_text("path\ttags\nb.ogg\tjazz\n")
    rows = [r for name in ("m.csv", "m.tsv") for r in ReadManifest().process(str(tmp_path / name))]
    assert [r.cells for r in rows] == [{"path": "a.ogg", "tags": "rock,pop"}, {"path": "b.ogg", "tags": "jazz"}]
