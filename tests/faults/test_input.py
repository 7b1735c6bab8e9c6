"""Fault injection, input half: broken audio files and broken manifests in ONE real build.

One corpus is built (`run_build`, DirectRunner) from a manifest listing good audio next to every
kind of broken file, plus manifests that are broken themselves. Each case states what must
become of its item — it lands, or it is rejected at a named stage with a named reason — and the
run's ledger (stats.json) must balance: ingested = accepted + rejected. Each case adds a row to
the session's fault table (tests/support/fault_table.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib

import numpy as np
import pytest
import soundfile as sf
from fault_files import (
    RATE,
    build_config,
    corpus_outcomes,
    flac_with_total,
    ledger,
    tone,
    wav_bytes,
    wav_with_title,
    write_tone,
)

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import load_config
from tunescribe.transforms.ingest.manifest import MAX_CELL_CHARS

pytestmark = pytest.mark.faults

LANDS = "lands"
HUGE = "x" * (4 * 2**20)  # a 4 MiB string: titles, tags, captions

# id -> (fault kind, file name under audio/ and how to make it, expected outcome)
# outcome: LANDS or (stage, reason) or a set of acceptable (stage, reason)s.
AUDIO_CASES = {
    "good_wav": ("control: a good WAV", "good.wav", LANDS),
    "good_flac": ("control: a good FLAC", "good.flac", LANDS),
    "wrong_ext_flac_as_mp3": ("wrong extension (FLAC named .mp3)", "flac_named.mp3", LANDS),
    "wrong_ext_ogg_as_wav": ("wrong extension (Ogg named .wav)", "ogg_named.wav", LANDS),
    "unknown_length": ("FLAC of unknown length (streamed encode)", "unknown_length.flac", LANDS),
    "huge_title_tag": ("huge metadata tag in the file (4 MiB INAM)", "huge_title.wav", LANDS),
    "empty": ("empty file", "empty.wav", ("decode", "empty_file")),
    "truncated_flac": ("truncated FLAC", "truncated.flac", {("decode", "truncated"), ("decode", "corrupt_audio")}),
    "truncated_wav": ("truncated WAV", "truncated.wav", ("decode", "truncated")),
    "random_bytes": ("non-audio bytes (random)", "random.wav", ("decode", "not_audio")),
    "png_as_flac": ("non-audio bytes (PNG named .flac)", "image.flac",
                    {("decode", "not_audio"), ("decode", "no_audio_stream")}),
    "text_as_mp3": ("non-audio bytes (text named .mp3)", "text.mp3", ("decode", "not_audio")),
    "zero_channels": ("zero channels", "zero_channels.wav", ("decode", "bad_audio_header")),
    "one_sample": ("one sample", "one_sample.wav", ("quality", "too_short")),
    "header_only": ("WAV header, no samples", "header_only.wav", ("decode", "empty_audio")),
    "nan_samples": ("NaN samples", "nan.wav", ("decode", "non_finite_samples")),
    "inf_samples": ("inf samples", "inf.wav", ("decode", "non_finite_samples")),
    "rate_1hz": ("absurd sample rate: 1 Hz header", "rate_1hz.wav", ("decode", "unsupported_sample_rate")),
    "rate_10mhz": ("absurd sample rate: 10 MHz header", "rate_10mhz.wav", ("decode", "unsupported_sample_rate")),
    "missing": ("missing file", "gone.wav", ("decode", "missing_file")),
}


def make_audio(audio: pathlib.Path) -> None:
    audio.mkdir(parents=True, exist_ok=True)
    write_tone(audio / "good.wav", "good.wav")
    write_tone(audio / "good.flac", "good.flac", format="FLAC")
    write_tone(audio / "flac_named.mp3", "flac_named", format="FLAC")
    write_tone(audio / "ogg_named.wav", "ogg_named", format="OGG", subtype="VORBIS")
    write_tone(audio / "unknown_length.flac", "unknown", format="FLAC")
    flac_with_total(audio / "unknown_length.flac", 0)
    wav_with_title(audio / "huge_title.wav", "huge_title", HUGE)
    (audio / "empty.wav").write_bytes(b"")
    data = write_tone(audio / "full.flac", "truncated", seconds=6.0, format="FLAC").read_bytes()
    (audio / "truncated.flac").write_bytes(data[: len(data) // 3])
    (audio / "full.flac").unlink()
    data = write_tone(audio / "full.wav", "truncated_wav", seconds=6.0, subtype="PCM_16").read_bytes()
    (audio / "truncated.wav").write_bytes(data[: len(data) // 3])
    (audio / "full.wav").unlink()
    rng = np.random.default_rng(9)
    (audio / "random.wav").write_bytes(rng.bytes(40000))
    (audio / "image.flac").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(20000))
    (audio / "text.mp3").write_text("I am not an mp3\n" * 100)
    (audio / "zero_channels.wav").write_bytes(wav_bytes(RATE, channels=0, data=bytes(3200)))
    (audio / "one_sample.wav").write_bytes(wav_bytes(RATE, data=b"\x10\x00"))
    (audio / "header_only.wav").write_bytes(wav_bytes(RATE))
    for name, bad in (("nan.wav", np.nan), ("inf.wav", np.inf)):
        x = tone(name)
        x[len(x) // 2] = bad
        sf.write(audio / name, x, RATE, subtype="FLOAT")
    # 3000 samples declared at 1 Hz: a 6 KB file claiming 50 minutes (2.4 GB once resampled).
    (audio / "rate_1hz.wav").write_bytes(wav_bytes(1, data=(tone("r1")[:3000] * 3e4).astype("<i2").tobytes()))
    (audio / "rate_10mhz.wav").write_bytes(wav_bytes(10_000_000, data=(tone("r10")[:50000] * 3e4).astype("<i2").tobytes()))


# Manifest-level cases: (fault kind, source id of the reject or of the row, expected outcome)
def write_manifests(root: pathlib.Path) -> dict[str, tuple[str, str, object]]:
    audio = root / "audio"
    cases = {}
    rows = [["id", "path", "tags", "title"]] + [[k, f"audio/{f}", "piano,calm", f"title of {k}"]
                                                for k, (_, f, _) in AUDIO_CASES.items()]
    write_tone(audio / "huge_title_cell.wav", "huge_title_cell")
    rows.append(["huge_title_cell", "audio/huge_title_cell.wav", "piano", "t" * (MAX_CELL_CHARS + 1)])
    # Rows rejected while parsing are named by manifest and row number (their cells are not trusted).
    cases["huge_title_cell"] = ("huge metadata: 64 KiB+ title cell", f"{root}/faults.csv#{len(rows) - 1}",
                                ("ingest", "field_too_long"))
    write_tone(audio / "huge_tags_cell.wav", "huge_tags_cell")
    rows.append(["huge_tags_cell", "audio/huge_tags_cell.wav", ",".join(["rock"] * 2**15), "t"])
    n_huge_tags = len(rows) - 1
    cases["faults.csv#%d" % n_huge_tags] = ("huge metadata: 160 KiB tag cell (over csv's field limit)",
                                           f"{root}/faults.csv#{n_huge_tags}", ("ingest", "field_too_long"))
    write_tone(audio / "after_huge.wav", "after_huge")
    rows.append(["after_huge", "audio/after_huge.wav", "piano", "the row after a csv error"])
    cases["after_huge"] = ("row after a csv field-limit error", "after_huge", LANDS)
    write_tone(audio / "twice.wav", "twice")
    write_tone(audio / "twice_other.wav", "twice_other")
    rows.append(["twice", "audio/twice.wav", "piano", "a row"])
    rows.append(["twice", "audio/twice.wav", "piano", "the same row again"])
    rows.append(["twice_other", "audio/twice_other.wav", "piano", "a row"])
    rows.append(["twice_other", "audio/twice.wav", "piano", "the same id, another file"])
    rows.append(["no_path", "", "piano", "an empty path cell"])
    cases["no_path"] = ("missing value in the path column", f"{root}/faults.csv#{len(rows) - 1}",
                        ("ingest", "bad_manifest_row"))
    rows.append(["extra_cells", "audio/good.wav", "piano", "t", "surplus", "cells"])
    cases["extra_cells"] = ("extra cells past the header", f"{root}/faults.csv#{len(rows) - 1}",
                            ("ingest", "bad_manifest_row"))
    rows.append(["a_folder", "audio", "piano", "a folder, not a file"])
    cases["a_folder"] = ("path names a folder", "a_folder", ("ingest", "not_a_file"))
    os.mkfifo(audio / "fifo.wav")
    rows.append(["a_fifo", "audio/fifo.wav", "piano", "a FIFO: opening it would block for ever"])
    cases["a_fifo"] = ("path names a FIFO", "a_fifo", ("ingest", "not_a_file"))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (root / "faults.csv").write_text(buf.getvalue())

    # A manifest without the mapped path column: each row is rejected, naming the column.
    (root / "nopath.csv").write_text("file,id\naudio/good.wav,nopath_row\n")
    cases["nopath_row"] = ("manifest without the mapped path column", f"{root}/nopath.csv#1",
                           ("ingest", "bad_manifest_row"))
    # A manifest with an extra (unmapped) column and without the mapped `genre` column: rows land.
    write_tone(audio / "cols.wav", "cols")
    (root / "columns.csv").write_text("path,id,unmapped_extra\naudio/cols.wav,columns_row,whatever\n")
    cases["columns_row"] = ("missing mapped column + extra unmapped column", "columns_row", LANDS)

    # Not UTF-8: a Latin-1 manifest (its ASCII rows land, the others are rejected), a UTF-16 one
    # (the whole manifest is one reject), a UTF-8 one with a byte-order mark (lands).
    write_tone(audio / "latin_ok.wav", "latin_ok")
    write_tone(audio / "latin_bad.wav", "latin_bad")
    (root / "latin1.csv").write_bytes("path,id\naudio/latin_ok.wav,latin_ok\naudio/latin_bad.wav,caf\xe9\n"
                                      .encode("latin-1"))
    cases["latin1_ascii"] = ("Latin-1 manifest: an ASCII row", "latin_ok", LANDS)
    cases["latin1_bad"] = ("Latin-1 manifest: a non-UTF-8 row", f"{root}/latin1.csv#2", ("ingest", "bad_encoding"))
    write_tone(audio / "utf16.wav", "utf16")
    (root / "utf16.csv").write_bytes("path,id\naudio/utf16.wav,utf16_row\n".encode("utf-16"))
    cases["utf16"] = ("UTF-16 manifest", f"{root}/utf16.csv", ("ingest", "bad_encoding"))
    write_tone(audio / "bom.wav", "bom")
    (root / "bom.csv").write_bytes("path,id\naudio/bom.wav,bom_row\n".encode("utf-8-sig"))
    cases["bom"] = ("UTF-8 manifest with a byte-order mark", "bom_row", LANDS)

    # JSONL: a 4 MiB human caption, a line that is not JSON, a row that is not an object.
    write_tone(audio / "huge_caption.wav", "huge_caption")
    write_tone(audio / "json_ok.wav", "json_ok")
    lines = [json.dumps({"file": "audio/huge_caption.wav", "id": "huge_caption", "caption": HUGE, "tags": ["piano"]}),
             "{not json", json.dumps(["a", "list"]),
             json.dumps({"file": "audio/json_ok.wav", "id": "json_ok", "caption": "a calm piano", "tags": ["piano"]})]
    (root / "rows.jsonl").write_text("\n".join(lines) + "\n")
    cases["huge_caption"] = ("huge metadata: 4 MiB caption (JSONL line over max_line_bytes)",
                             f"{root}/rows.jsonl#1", ("ingest", "line_too_long"))
    cases["bad_json"] = ("JSONL line that is not JSON", f"{root}/rows.jsonl#2", ("ingest", "bad_manifest_row"))
    cases["json_list"] = ("JSONL row that is not an object", f"{root}/rows.jsonl#3", ("ingest", "bad_manifest_row"))
    cases["json_ok"] = ("control: a good JSONL row", "json_ok", LANDS)
    return cases


@pytest.fixture(scope="module")
def fault_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("input_faults")
    make_audio(root / "audio")
    manifest_cases = write_manifests(root)
    config = build_config(root, [
        {"type": "manifest", "path": "faults.csv", "columns": {"path": "path", "id": "id", "tags": ["tags"],
                                                                "track": "title"}},
        {"type": "manifest", "path": "columns.csv", "columns": {"path": "path", "id": "id", "tags": ["genre"]}},
        {"type": "manifest", "path": "nopath.csv", "columns": {"path": "path", "id": "id"}},
        {"type": "manifest", "path": "latin1.csv", "columns": {"path": "path", "id": "id"}},
        {"type": "manifest", "path": "utf16.csv", "columns": {"path": "path", "id": "id"}},
        {"type": "manifest", "path": "bom.csv", "columns": {"path": "path", "id": "id"}},
        {"type": "manifest", "path": "rows.jsonl",
         "columns": {"path": "file", "id": "id", "captions": ["caption"], "tags": ["tags"]}},
    ], quality={"min_duration_s": 0.5, "require_caption": False, "captions": {"min_words": 1}})
    stats = run_build(load_config(str(config)), [])
    corpus = root / "corpus"
    accepted, rejected = corpus_outcomes(corpus)
    return {"corpus": corpus, "stats": stats, "accepted": accepted, "rejected": rejected,
            "manifest_cases": manifest_cases}


def check_case(build, fault_log, kind: str, source_id: str, expected) -> None:
    accepted, rejected = build["accepted"], build["rejected"]
    got = rejected.get(source_id, set())
    landed = source_id in accepted
    outcome = "lands" if landed and not got else ", ".join(f"reject {s}/{r}" for s, r in sorted(got)) or "LOST"
    fault_log.add(kind, outcome, ingested=1, accepted=int(landed), rejected=int(bool(got) and not landed))
    if expected == LANDS:
        assert landed, f"{kind}: {source_id} did not land; rejects: {got}"
    else:
        allowed = expected if isinstance(expected, set) else {expected}
        assert not landed, f"{kind}: {source_id} landed, expected a reject {allowed}"
        assert got & allowed, f"{kind}: {source_id} rejects {got}, expected one of {allowed}"


@pytest.mark.parametrize("source_id", sorted(AUDIO_CASES))
def test_audio_fault(fault_build, fault_log, source_id):
    kind, _, expected = AUDIO_CASES[source_id]
    check_case(fault_build, fault_log, kind, source_id, expected)


MANIFEST_CASE_NAMES = ["huge_title_cell", "after_huge", "no_path", "extra_cells", "a_folder", "a_fifo",
                       "nopath_row", "columns_row",
                       "latin1_ascii", "latin1_bad", "utf16", "bom", "huge_caption", "bad_json", "json_list",
                       "json_ok"]


@pytest.mark.parametrize("name", MANIFEST_CASE_NAMES)
def test_manifest_fault(fault_build, fault_log, name):
    kind, source_id, expected = fault_build["manifest_cases"][name]
    check_case(fault_build, fault_log, kind, source_id, expected)


def test_tag_cell_over_csv_field_limit(fault_build, fault_log):
    [(name, (kind, source_id, expected))] = [(k, v) for k, v in fault_build["manifest_cases"].items()
                                             if k.startswith("faults.csv#")]
    check_case(fault_build, fault_log, kind, source_id, expected)


@pytest.mark.parametrize("source_id, kind", [("twice", "duplicate id (same file)"),
                                              ("twice_other", "duplicate id (another file)")])
def test_duplicate_id(fault_build, fault_log, source_id, kind):
    """A source is its id and time range: of two rows with the same id, the first lands and the
    second is rejected as a duplicate, whatever file it names."""
    rejected = fault_build["rejected"].get(source_id, set())
    fault_log.add(kind, "first lands, second reject ingest/duplicate_source", ingested=2,
                  accepted=int(source_id in fault_build["accepted"]), rejected=int(bool(rejected)))
    assert rejected == {("ingest", "duplicate_source")}
    assert source_id in fault_build["accepted"]


def test_ledger_balances_and_every_item_is_accounted_for(fault_build, fault_log):
    stats, corpus = fault_build["stats"], fault_build["corpus"]
    sources = ledger(corpus)
    assert stats["sources"] == sources
    accepted, rejected = fault_build["accepted"], fault_build["rejected"]
    expected_landing = {k for k, (_, _, e) in AUDIO_CASES.items() if e == LANDS} | {
        sid for kind, sid, e in fault_build["manifest_cases"].values() if e == LANDS} | {"twice", "twice_other"}
    assert accepted == expected_landing
    # rows listed: every audio case, 11 more rows of faults.csv, 1 + 1 + 2 + 1 + 1 + 4 of the others;
    # the UTF-16 manifest is one reject of its own.
    assert sources["ingested"] == len(AUDIO_CASES) + 11 + 1 + 1 + 2 + 1 + 1 + 4
    assert sources["accepted"] == len(accepted)
    every_case = set(AUDIO_CASES) | {sid for _, sid, _ in fault_build["manifest_cases"].values()}
    assert every_case <= accepted | set(rejected), every_case - accepted - set(rejected)
    fault_log.add("input faults build (all cases)", "ran to the end; ledger balances", ingested=sources["ingested"],
                  accepted=sources["accepted"], rejected=sources["rejected"])


def test_huge_fields_stay_out_of_the_outputs(fault_build):
    """No 4 MiB string reached a shard, a table, the report or the card."""
    corpus = fault_build["corpus"]
    for path in corpus.rglob("*"):
        if path.is_file() and path.suffix in {".tar", ".parquet", ".html", ".md", ".json"}:
            assert b"x" * 70000 not in path.read_bytes(), path
