"""The same build on the PortableRunner, compared byte for byte with the in-process DirectRunner.

PortableRunner against Beam's job service in its own process, workers started by an external
worker pool as processes of their own: the Job API that Flink's and Spark's job servers speak.
The workers are other interpreters (other hash seeds, fresh imports), so anything that depends on
the process (set order, module state, files outside Beam's sinks) shows as a difference.

The config is the bundled example plus two model captioners (tiny random-weight models), so
model handlers, model loading in workers and RunInference cross process boundaries too. (The
multi-process DirectRunner is compared the same way by benchmarks/runners.py; shared models under
it are tested in tests/transforms/models/test_base.py.)
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml
from beam_services import portable_services
from tiny_models import build_causal_lm, build_whisper

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import load_config

REPO = pathlib.Path(__file__).resolve().parents[2]


def with_models(config: pathlib.Path, lm: pathlib.Path, whisper: pathlib.Path) -> None:
    """Adds a text and an audio captioner; lets their (random) captions pass the text rules, so
    the corpus carries what the models wrote."""
    raw = yaml.safe_load(config.read_text())
    raw["captions"] = {"template": True, "models": [
        {"backend": "transformers", "name": "lm", "model": str(lm), "tasks": ["writing", "summary"],
         "generation": {"max_new_tokens": 8}, "batch_size": 1},
        {"backend": "transformers-audio", "name": "whisper", "model": str(whisper),
         "generation": {"max_new_tokens": 4}, "batch_audio_s": 10},
    ]}
    raw.setdefault("quality", {})["captions"] = {"min_words": 0, "languages": [], "max_repetition": None,
                                                "max_longest_run": None}
    config.write_text(yaml.safe_dump(raw))


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A copy of examples/basic with its audio made, and tiny models captioning every clip."""
    root = tmp_path_factory.mktemp("example")
    for name in ("make_audio.py", "manifest.csv", "config.yaml"):
        shutil.copy(REPO / "examples" / "basic" / name, root / name)
    subprocess.run([sys.executable, str(root / "make_audio.py")], check=True, capture_output=True, timeout=120)
    lm, whisper = build_causal_lm(root / "models" / "lm"), build_whisper(root / "models" / "whisper")
    with_models(root / "config.yaml", lm, whisper)
    return root / "config.yaml"


def build(config: pathlib.Path, out: pathlib.Path, beam_args: list[str]) -> dict:
    return run_build(load_config(str(config), output=str(out)), beam_args)


@pytest.fixture(scope="module")
def direct(example, tmp_path_factory):
    """The reference: `tunescribe build` on the DirectRunner in a fresh interpreter, as a user runs
    it, so nothing earlier tests left in this process (thread settings, caches) can shape it."""
    out = tmp_path_factory.mktemp("direct") / "corpus"
    proc = subprocess.run([sys.executable, "-m", "tunescribe.pipelines.cli", "-q", "build", str(example),
                           "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "stats.json").read_text())


def files_of(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_corpus(expected: pathlib.Path, got: pathlib.Path) -> None:
    want, have = files_of(expected), files_of(got)
    assert sorted(have) == sorted(want)
    different = [name for name in want if want[name] != have[name]]
    assert not different, f"files differ from the DirectRunner's: {different}\n{first_difference(expected, got, different)}"


def first_difference(expected: pathlib.Path, got: pathlib.Path, names: list[str]) -> str:
    """Where two clip tables first differ: key, field and both values."""
    import pyarrow.parquet as pq

    for name in names:
        if name.startswith("clips/") and name.endswith(".parquet"):
            for a, b in zip(pq.read_table(expected / name).to_pylist(), pq.read_table(got / name).to_pylist()):
                for field in a:
                    x, y = a[field], b.get(field)
                    if x != y and isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
                        x, y = next((u, v) for u, v in zip(x, y) if u != v)
                    if x != y:
                        return f"{name} {a.get('key')} {field}:\n  direct:   {x}\n  this run: {y}"
    return ""


def test_the_direct_build_exercises_every_kind_of_stage(direct):
    _, stats = direct
    # Not a trivial corpus: clips accepted into several shards, rejects, model captions.
    assert stats["stages"]["accepted"] >= 8 and stats["shards"]["count"] >= 2
    reasons = set(stats["rejects"]["by_reason"])
    assert {"decode/not_audio", "decode/missing_file"} <= reasons
    assert any(r.startswith("quality/") for r in reasons)
    import pyarrow.parquet as pq

    clips = pq.read_table(direct[0] / "clips").to_pylist()
    backends = {c["backend"] for clip in clips for c in clip["captions"]}
    assert {"transformers", "transformers-audio"} <= backends


def test_portable_runner_builds_the_same_corpus(example, direct, tmp_path):
    with portable_services(tmp_path / "services") as services:
        stats = build(example, tmp_path / "corpus", services.pipeline_args())
        job_log, pool_log = services.job_log(), services.pool_log()
    assert_same_corpus(direct[0], tmp_path / "corpus")
    assert stats == direct[1]
    # It really went through the job service, and the work ran in workers the pool started.
    assert "Completed job" in job_log and "state DONE" in job_log
    assert "Starting worker with command" in pool_log


def test_services_are_stopped_when_the_block_ends(tmp_path):
    import socket

    with portable_services(tmp_path / "services") as services:
        ports = (services.job_port, services.pool_port)
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
