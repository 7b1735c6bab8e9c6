"""The README's main command, run as a user would: the bundled example builds a readable corpus."""

import io
import json
import pathlib
import re
import subprocess

import pyarrow.parquet as pq
import soundfile as sf
import webdataset as wds

REPO = pathlib.Path(__file__).resolve().parents[2]


def readme_command(tag: str) -> str:
    """The shell command in the README's fenced block marked `<!-- tag -->`."""
    text = (REPO / "README.md").read_text()
    block = re.search(rf"<!-- {tag} -->\s*```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, f"README has no block marked {tag}"
    return block.group(1)


def test_readme_main_command_builds_the_example(tmp_path):
    command = readme_command("main-command")
    # The venv setup part is what CI already did; run the rest from a copy of the example.
    steps = [line for line in command.splitlines() if line.strip() and not re.match(r"\s*(python3? -m venv|\.|source|pip )", line)]
    example = tmp_path / "examples" / "basic"
    example.mkdir(parents=True)
    for name in ("make_audio.py", "manifest.csv", "config.yaml"):
        (example / name).write_bytes((REPO / "examples" / "basic" / name).read_bytes())
    proc = subprocess.run(" && ".join(steps), shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "accepted" in proc.stdout
    corpus = example / "corpus"
    shards = sorted(str(p) for p in corpus.glob("shards/*.tar"))
    samples = list(wds.WebDataset(shards, shardshuffle=False))
    assert len(samples) == pq.read_table(corpus / "clips").num_rows > 0
    for s in samples:
        audio, rate = sf.read(io.BytesIO(s["flac"]))
        assert rate == 48000 and len(audio) > 0 and s["txt"].decode().strip()
        assert json.loads(s["json"])["key"] == s["__key__"]
    reasons = set(pq.read_table(corpus / "rejects.parquet").column("reason").to_pylist())
    assert {"not_audio", "missing_file", "too_silent"} <= reasons
