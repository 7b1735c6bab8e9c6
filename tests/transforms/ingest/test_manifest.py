"""Manifest reading: rows stream out lazily; each bad row is a reject, the good rows still land."""

import bz2
import gzip
import io
import json
import lzma
import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from media_server import media_server  # noqa: F401 - the fixture

from tunescribe.transforms.ingest.manifest import (
    ColumnMapping,
    ManifestRow,
    ParseManifestRow,
    ReadManifest,
    bounded_lines,
    manifest_format,
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


# --- Parquet, compressed and remote manifests; video ids and reference captions -------------

def test_parquet_manifest_streams_typed_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"path": ["a.ogg", "b.ogg", None], "start": [0.0, 1.5, None], "tags": [["rock"], [], None]})
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=2)
    rows = list(ReadManifest().process(str(tmp_path / "m.parquet")))
    assert [(r.row_number, r.cells) for r in rows] == [
        (1, {"path": "a.ogg", "start": 0.0, "tags": ["rock"]}), (2, {"path": "b.ogg", "start": 1.5, "tags": []}),
        (3, {"path": None, "start": None, "tags": None})]
    parser = ParseManifestRow(ColumnMapping(tags=("tags",), start="start"), str(tmp_path), 0)
    (a,) = parser.process(rows[0])
    assert (a.uri, a.start_s, [t.name for t in a.tags]) == (str(tmp_path / "a.ogg"), 0.0, ["rock"])
    with pytest.raises(Rejected):
        list(parser.process(rows[2]))
    assert manifest_format("x.parquet") == manifest_format("x.pq") == "parquet"


def test_not_a_parquet_file_is_one_reject(tmp_path):
    (tmp_path / "m.parquet").write_text("path\na.ogg\n")
    with pytest.raises(Rejected) as exc:
        list(ReadManifest().process(str(tmp_path / "m.parquet")))
    assert exc.value.reason == "bad_manifest"


def test_compressed_manifest_keeps_its_format(tmp_path):
    import gzip

    with gzip.open(tmp_path / "m.tsv.gz", "wt") as f:
        f.write("path\ttags\nb.ogg\tjazz\n")
    assert manifest_format("m.tsv.gz") == "tsv"
    assert [r.cells for r in ReadManifest().process(str(tmp_path / "m.tsv.gz"))] == [{"path": "b.ogg", "tags": "jazz"}]


def test_video_ids_become_urls_and_captions_reference_captions():
    columns = ColumnMapping(path=None, youtube_id="ytid", captions=("caption", "caption2"), start="s", end="e")
    parser = ParseManifestRow(columns, "/audio", 0, video_url="http://127.0.0.1:1/watch?v={id}")
    (item,) = parser.process(ManifestRow("m.csv", 1, {"ytid": "a b&c", "caption": "Soft piano.", "caption2": "",
                                                      "s": "30", "e": "40"}))
    assert item.source_id == "a b&c" and item.uri == "http://127.0.0.1:1/watch?v=a%20b%26c"
    assert [(c.text, c.task, c.backend, c.prompt_id, c.prompt_version) for c in item.captions] == [
        ("Soft piano.", "reference", "human", "caption", "")]
    with pytest.raises(Rejected) as exc:
        list(parser.process(ManifestRow("m.csv", 2, {"ytid": "", "caption": "x"})))
    assert exc.value.reason == "bad_manifest_row"


def test_trailing_cells_are_tags_when_asked():
    columns = ColumnMapping(path="PATH", tags=("TAGS",), tag_separator="\t", trailing_tags=True)
    (item,) = ParseManifestRow(columns, "/a", 0).process(
        ManifestRow("m.tsv", 1, {"PATH": "1.mp3", "TAGS": "genre---rock", None: ["mood/theme---happy", ""]}))
    assert [(t.name, t.category) for t in item.tags] == [("rock", "genre"), ("happy", "mood")]


def test_remote_manifest_over_http(media_server, tmp_path):  # noqa: F811
    (media_server.root / "m.csv").write_text("path,tags\nhttp://h/a.ogg,rock\nb.ogg,jazz\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"path": ["c.ogg"]}), media_server.root / "m.parquet")
    url = media_server.url + "/manifest/"
    rows = list(ReadManifest().process(url + "m.csv")) + list(ReadManifest().process(url + "m.parquet"))
    assert [r.cells["path"] for r in rows] == ["http://h/a.ogg", "b.ogg", "c.ogg"]
    items = [i for r in rows for i in ParseManifestRow(ColumnMapping(), url.rstrip("/"), 0).process(r)]
    assert [i.uri for i in items] == ["http://h/a.ogg", url + "b.ogg", url + "c.ogg"]
    with pytest.raises(Rejected) as exc:
        list(ReadManifest().process(url + "absent.csv"))
    assert exc.value.reason == "missing_manifest"


def test_reader_streams_rows_before_a_failure(tmp_path):
    """partial=True: a manifest that breaks half-way keeps its rows; the break is one reject."""
    good = tmp_path / "m.jsonl"
    good.write_text("".join(json.dumps({"path": f"{n}.ogg"}) + "\n" for n in range(5)))
    with beam.Pipeline() as p:
        rows, bad = p | beam.Create([str(good), str(tmp_path / "m.parquet")]) | RunStage(
            "ingest", ReadManifest(), partial=True)
        assert_that(rows | beam.combiners.Count.Globally(), equal_to([5]), label="rows")
        assert_that(bad | beam.Map(lambda r: r.reason), equal_to(["missing_manifest"]), label="bad")


# --- Bounded reading: an over-long line is a reject, read past but never held ----------------

class Trickle(io.RawIOBase):
    """A stream that returns a few bytes per read, as a slow decompressor or socket may."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        got = self.data.read(min(len(buffer), 3))
        buffer[:len(got)] = got
        return len(got)


@pytest.mark.parametrize("stream", [io.BytesIO, Trickle])
def test_bounded_lines_replace_only_overlong_lines_by_none(stream):
    data = b"ok\n" + b"x" * 9 + b"\n\n" + b"y" * 8 + b"\n" + b"z" * 300_000 + b"\nlast" + b"w" * 4
    assert list(bounded_lines(stream(data), 8)) == [b"ok\n", None, b"\n", b"y" * 8 + b"\n", None, b"lastwwww"]
    assert list(bounded_lines(stream(b"a\n" + b"b" * 9), 8)) == [b"a\n", None]  # the unended last line too
    assert list(bounded_lines(stream(b""), 8)) == []


def test_overlong_lines_are_rejected_and_the_rows_around_them_kept(tmp_path):
    long = "x" * 5000
    with gzip.open(tmp_path / "m.jsonl.gz", "wt") as f:
        f.write("\n".join([json.dumps({"path": "a.ogg"}), json.dumps({"path": long}), json.dumps({"path": "b.ogg"})]))
    # CSV: an over-long line, and a record whose quoted cell spans lines that are each short enough;
    # the cut record is read past to its closing quote ("" inside is an escaped quote).
    cell = "\n".join([long[:900] + '""'] * 6)
    (tmp_path / "m.csv").write_text(f'path,note\na.ogg,x\nb.ogg,{long}\nc.ogg,"{cell}"\nd.ogg,y\n')
    read = ReadManifest(max_line_bytes=1024)
    rows = [(r.row_number, r.error[0] if r.error else r.cells["path"] if r.cells else json.loads(r.raw)["path"])
            for name in ("m.jsonl.gz", "m.csv") for r in read.process(str(tmp_path / name))]
    assert rows == [(1, "a.ogg"), (2, "line_too_long"), (3, "b.ogg"),
                    (1, "a.ogg"), (2, "line_too_long"), (3, "line_too_long"), (4, "d.ogg")]
    assert list(ReadManifest(max_line_bytes=2 * len(long)).process(str(tmp_path / "m.csv")))[1].cells["note"] == long
    (tmp_path / "head.csv").write_text(f"path,{long}\na.ogg,x\n")
    with pytest.raises(Rejected) as exc:
        list(read.process(str(tmp_path / "head.csv")))
    assert exc.value.reason == "line_too_long"


@pytest.mark.parametrize("ext,compress", [("bz2", bz2.compress), ("xz", lzma.compress), ("gz", gzip.compress)])
def test_every_compression_reads_past_an_overlong_line(tmp_path, ext, compress, media_server):  # noqa: F811
    data = ("path\na.ogg\n" + "x" * 5000 + "\nb.ogg\n").encode()
    (tmp_path / f"m.csv.{ext}").write_bytes(compress(data))
    (media_server.root / f"m.csv.{ext}").write_bytes(compress(data))
    for uri in (str(tmp_path / f"m.csv.{ext}"), f"{media_server.url}/manifest/m.csv.{ext}"):
        rows = list(ReadManifest(max_line_bytes=1024).process(uri))
        assert [(r.row_number, r.error[0] if r.error else r.cells["path"]) for r in rows] == [
            (1, "a.ogg"), (2, "line_too_long"), (3, "b.ogg")], uri


def test_overlong_line_reject_names_manifest_and_line_in_a_build_stage(tmp_path):
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "a.ogg"}) + "\n" + "[" * 4096 + "\n"
                                      + json.dumps({"path": "b.ogg"}) + "\n")
    with beam.Pipeline() as p:
        rows, _ = p | beam.Create([str(tmp_path / "m.jsonl")]) | "Read" >> RunStage(
            "ingest", ReadManifest(max_line_bytes=1024), partial=True)
        items, bad = rows | "Parse" >> RunStage("ingest", ParseManifestRow(ColumnMapping(), str(tmp_path), 0))
        assert_that(items | beam.Map(lambda i: i.source_id), equal_to(["a.ogg", "b.ogg"]), label="items")
        assert_that(bad | beam.Map(lambda r: (r.source_id, r.stage, r.reason)),
                    equal_to([(f"{tmp_path}/m.jsonl#2", "ingest", "line_too_long")]), label="bad")


def test_parquet_row_group_too_big_to_read_is_rejected_row_by_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cells = ["a.ogg", "b.ogg", "z" * 400_000, "c.ogg", "d.ogg"]
    pq.write_table(pa.table({"path": cells}), tmp_path / "m.parquet", row_group_size=2, compression="zstd")
    rows = list(ReadManifest(max_line_bytes=1024).process(str(tmp_path / "m.parquet")))
    assert [(r.row_number, r.error[0] if r.error else r.cells["path"]) for r in rows] == [
        (1, "a.ogg"), (2, "b.ogg"), (3, "field_too_long"), (4, "field_too_long"), (5, "d.ogg")]
    assert "row group 1" in rows[2].error[1]


# The reader's peak memory, in a fresh process, relative to its own baseline. VmHWM, not getrusage's
# ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec, which hides any growth
# smaller than the (large) pytest process that started this one.
_PEAK_RSS = """
import json, sys
import pyarrow.parquet  # imported before the baseline: the library's own size is not the reader's
from tunescribe.transforms.ingest.manifest import ReadManifest

def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

read = ReadManifest(max_line_bytes=int(sys.argv[2]))
before = peak_kib()
rows = [(r.row_number, r.error[0] if r.error else "row") for r in read.process(sys.argv[1])]
print(json.dumps({"rows": rows, "grown_kib": peak_kib() - before}))
"""


def peak_growth_reading(path, max_line_bytes: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(path), str(max_line_bytes)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_huge_gzip_line_is_rejected_without_being_held(tmp_path):
    """128 MiB on one line, 0.6 MB gzipped: the reader's peak memory grows by a small fraction of it
    (the reader before bounded lines grew by twice the line)."""
    line_mib = 128
    with gzip.open(tmp_path / "m.jsonl.gz", "wb", compresslevel=1) as f:
        f.write(b'{"path": "a.ogg"}\n{"path": "')
        for _ in range(line_mib):
            f.write(b"x" * 2**20)
        f.write(b'"}\n{"path": "b.ogg"}\n')
    out = peak_growth_reading(tmp_path / "m.jsonl.gz", 2**20)
    assert out["rows"] == [[1, "row"], [2, "line_too_long"], [3, "row"]]
    assert out["grown_kib"] < line_mib * 1024 / 8, out


def test_huge_parquet_cell_is_rejected_without_being_read(tmp_path):
    """A 64 MiB cell, 3 KB compressed, in a row group of its own: rejected from the footer's sizes
    (the reader before this decompressed and copied it, growing by more than twice the cell)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cell_mib = 64
    pq.write_table(pa.table({"path": ["a.ogg", "z" * (cell_mib << 20), "b.ogg"]}), tmp_path / "m.parquet",
                   row_group_size=1, compression="zstd")
    out = peak_growth_reading(tmp_path / "m.parquet", 64 << 10)  # at most 16 MiB per column chunk
    assert out["rows"] == [[1, "row"], [2, "field_too_long"], [3, "row"]]
    assert out["grown_kib"] < cell_mib * 1024 / 4, out  # pyarrow's pools and threads: ~6 MiB of it
