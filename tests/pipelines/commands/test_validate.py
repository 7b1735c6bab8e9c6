"""`tunescribe validate` on a built corpus, intact and with each kind of damage planted in a copy."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunescribe.pipelines.cli import main
from tunescribe.schemas.layout import sample_key
from tunescribe.transforms.corpus.readers import iter_tar


@pytest.fixture
def corpus(mtg_corpus, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(mtg_corpus.corpus, copy)
    return copy


def validate(corpus, capsys) -> tuple[int, str]:
    rc = main(["validate", str(corpus)])
    return rc, capsys.readouterr().out


def a_shard(corpus):
    return sorted((corpus / "shards").glob("*-train-*.tar"))[1]


def members_of(shard) -> list[tuple[int, str, bytes]]:
    with open(shard, "rb") as f:
        return list(iter_tar(f))


def test_an_intact_corpus_is_valid(mtg_corpus):
    done = subprocess.run([sys.executable, "-m", "tunescribe.pipelines.cli", "validate", str(mtg_corpus.corpus)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    assert "ok:" in done.stdout and "ERROR" not in done.stdout


def test_truncated_shard(corpus, capsys):
    shard = a_shard(corpus)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2 + 100])
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert f"ERROR shards/{shard.name}: truncated or damaged at byte" in out
    assert f"ERROR shards/{shard.name}: filesize is {len(data) // 2 + 100}" in out


def test_missing_shard(corpus, capsys):
    shard = a_shard(corpus)
    shard.unlink()
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert f"ERROR shards/{shard.name}: missing (named by manifest.json, train.wids.json, the clip table)" in out


def test_sample_with_a_missing_member(corpus, capsys):
    shard = a_shard(corpus)
    members = members_of(shard)
    dropped = next(name for _, name, _ in members if name.endswith(".flac"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for _, name, data in members:
            if name != dropped:
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 946684800
                tar.addfile(info, io.BytesIO(data))
    shard.write_bytes(buf.getvalue())
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert f"ERROR shards/{shard.name}: sample {sample_key(dropped)} is missing its member {dropped}" in out


def test_table_row_without_a_sample(corpus, capsys):
    table_path = sorted((corpus / "clips").glob("*-train-*.parquet"))[0]
    table = pq.read_table(table_path)
    ghost = {**table.slice(0, 1).to_pylist()[0], "key": "0123456789abcdef_00000"}
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist([ghost], schema=table.schema)]), table_path)
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert (f"ERROR clips/{table_path.name}: row 0123456789abcdef_00000 has no sample in "
            f"shards/{ghost['shard']}") in out


def test_checksum_mismatch(corpus, capsys):
    shard = a_shard(corpus)
    offset, name, data = next(m for m in members_of(shard) if m[1].endswith(".flac"))
    spot = offset + 512 + len(data) // 2  # a byte inside the audio: the tar stays well-formed
    raw = bytearray(shard.read_bytes())
    raw[spot] ^= 0xFF
    shard.write_bytes(bytes(raw))
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert f"ERROR shards/{shard.name}: md5sum is" in out and "(checksum mismatch)" in out
    assert f"ERROR shards/{shard.name}: sha256" in out
    assert "truncated" not in out and "missing" not in out  # only the checksums can tell


def test_an_unfinished_build_is_reported(corpus, capsys):
    (corpus / "manifest.json").unlink()
    rc, out = validate(corpus, capsys)
    assert rc == 1
    assert "ERROR manifest.json: missing: the build did not finish" in out
