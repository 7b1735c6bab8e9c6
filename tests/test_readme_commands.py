"""Every shell command in the README, run as a user runs it: through the installed `tunescribe` entry
point, in a copy of the examples, with the placeholders filled ($PROJECT, $BUCKET, $IMAGE, the
`config.yaml` / CORPUS / CONFIG of the synopses) and the cloud step dry (`--dry_run=True` is in the
README's command). A line that is not run is in NOT_RUN with the reason; a README command this test
does not know fails it, so a documented command cannot break unseen."""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq
import pytest
import soundfile as sf
import webdataset as wds

from tunescribe.pipelines.commands import EXIT_CODES
from tunescribe.pipelines.config import load_config

REPO = pathlib.Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PLACEHOLDERS = {"PROJECT": "placeholder-project", "BUCKET": "placeholder-bucket",
                "IMAGE": "us-docker.pkg.dev/placeholder-project/tunescribe/worker:test"}
SETUP = "the environment this test runs in, set up the same way by .ci/run"
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate": SETUP,
    "pip install torch==2.13.0 && pip install -e .": SETUP,
    "pip install torch==2.13.0 && pip install -e '.[test]'": SETUP,
    "sudo apt-get install -y wordnet-base wordnet-sense-index chromium": SETUP,
    "python -m pytest -q": "the suite this test is part of (.ci/run runs it)",
    "tunescribe build config.yaml --runner=FlinkRunner --flink_master=host:8081 --environment_type=DOCKER "
    "--environment_config=$IMAGE": "needs a Flink cluster and Docker (job-server jars and images are unreachable here)",
    "tunescribe build config.yaml --runner=SparkRunner --spark_master_url=spark://host:7077 --environment_type=DOCKER "
    "--environment_config=$IMAGE": "needs a Spark cluster and Docker (job-server jars and images are unreachable here)",
    "tunescribe build examples/smollm2/config.yaml": "SmolLM2 captioning every clip of the example takes minutes "
        "on CPU; tests/transforms/captions/test_real_llm_captions.py builds with the same GGUF (and checks that both smollm2 configs "
        "name the model the fetch prints)",
    "transformers serve \"$(tunescribe models fetch smollm2 --hf)\" --host 127.0.0.1 --port 8000 --device cpu &":
        "SmolLM2 behind `transformers serve` takes minutes on CPU; "
        "tests/transforms/captions/test_real_llm_captions.py builds through it with the same model",
    "tunescribe build examples/smollm2/config-openai.yaml": "needs the `transformers serve` above",
    "python examples/contrastive/train.py --steps 300 --seed 0": "a minute and more of training; "
        "tests/examples/test_contrastive.py runs the same script (200 steps) and checks that the loss falls",
}
# The synopses (`tunescribe ...` lines in plain blocks): the README line -> the command run, with
# {corpus} the example corpus, {config} its config and {out} a new folder; None: the line only names
# the command, its own test runs it.
SYNOPSES = {
    "tunescribe build CONFIG.yaml [--output DIR] [--workers N] [--progress-every SECONDS] [Beam pipeline options]":
        "tunescribe build {config} --output {out}/rebuilt --workers 1 --progress-every 0 --runner=DirectRunner",
    "tunescribe inspect CORPUS": "tunescribe inspect {corpus}",
    "tunescribe validate CORPUS": "tunescribe validate {corpus}",
    "tunescribe evaluate ...": None,  # tests/pipelines/commands/test_evaluate.py
    "tunescribe filter CORPUS CONFIG --dry-run": "tunescribe filter {corpus} {config} --dry-run",
    "tunescribe filter CORPUS CONFIG [--output DIR] [Beam options]":
        "tunescribe filter {corpus} {config} --output {out}/refiltered --runner=DirectRunner",
}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)


def command_lines(body: str) -> list[str]:
    """The commands of a block: continuation lines joined, comment lines and comments dropped."""
    joined = re.sub(r"\\\n\s*", "", body)
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


SHELL_BLOCKS = [command_lines(body) for lang, body in fenced_blocks(README) if lang in ("bash", "sh")]
SYNOPSIS_LINES = [line for lang, body in fenced_blocks(README) if not lang
                  for line in command_lines(body) if line.startswith("tunescribe ")]


def test_every_readme_command_is_run_or_listed_with_a_reason():
    lines = {line for block in SHELL_BLOCKS for line in block}
    assert set(NOT_RUN) <= lines, f"NOT_RUN names lines the README no longer has: {set(NOT_RUN) - lines}"
    assert set(SYNOPSIS_LINES) == set(SYNOPSES), "a synopsis line changed: update SYNOPSES"
    assert len(SHELL_BLOCKS) == len(BLOCK_CHECKS), "a shell block was added or removed: give it a check"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> pathlib.Path:
    """A folder holding a copy of the examples (as in a checkout) and `config.yaml`, the placeholder
    config of the runner commands: the basic example's manifest, into `corpus`."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("audio", "corpus", "work", "__pycache__"))
    config = (REPO / "examples" / "basic" / "config.yaml").read_text()
    (root / "config.yaml").write_text(config.replace("path: manifest.csv", "path: examples/basic/manifest.csv"))
    return root


def run_block(lines: list[str], cwd: pathlib.Path, timeout_s: float = 900) -> subprocess.CompletedProcess:
    """Runs the block's lines (less NOT_RUN) in bash as written, with the installed entry points first
    on PATH and the placeholders set; stops what the block started in the background."""
    script = "\n".join(["set -e", *(line for line in lines if line not in NOT_RUN)])
    env = {**os.environ, **PLACEHOLDERS, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    # Output to files, not pipes: a service the block leaves in the background would hold a pipe open.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the block's background services, and bash on a timeout
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0)
        err.seek(0)
        out, err = out.read(), err.read()
    done = subprocess.CompletedProcess(script, proc.returncode, out, err)
    assert done.returncode == 0, f"{script}\nexit {done.returncode}\n{err[-4000:]}"
    return done


def check_main_command(done, work):
    """The quick start: the example corpus, readable with webdataset, its rejects named."""
    corpus = work / "examples" / "basic" / "corpus"
    assert (corpus / "manifest.json").is_file()
    assert re.search(r"^tunescribe: built corpus 'example' in ", done.stdout, re.M)
    shards = sorted(str(p) for p in corpus.glob("shards/*.tar"))
    samples = list(wds.WebDataset(shards, shardshuffle=False))
    assert len(samples) == pq.read_table(corpus / "clips").num_rows > 0
    for s in samples:
        audio, rate = sf.read(io.BytesIO(s["flac"]))
        assert rate == 48000 and len(audio) > 0 and s["txt"].decode().strip()
        assert json.loads(s["json"])["key"] == s["__key__"]
    reasons = set(pq.read_table(corpus / "rejects.parquet").column("reason").to_pylist())
    assert {"not_audio", "missing_file", "too_silent"} <= reasons


def check_not_run(done, work):
    assert done.stdout == ""  # every line of the block is in NOT_RUN


def check_smollm2(done, work):
    """The fetch prints the file examples/smollm2/config.yaml names (the build is in NOT_RUN)."""
    printed = done.stdout.splitlines()[-1]
    assert pathlib.Path(printed).is_file()
    assert load_config(str(work / "examples" / "smollm2" / "config.yaml")).captions.models[0].model == printed


def check_runners(done, work):
    """The portable runner built the corpus of `config.yaml`; the Dataflow job was made, not submitted."""
    assert (work / "corpus" / "manifest.json").is_file()
    assert re.search(r"^tunescribe: built corpus 'example' in ", done.stdout, re.M)
    assert "tunescribe: dry run: the job for corpus 'jamendo' was made and not submitted" in done.stdout


# One check per shell block, in README order.
BLOCK_CHECKS = [check_main_command, check_not_run, check_smollm2, check_not_run, check_runners, check_not_run]


@pytest.fixture(scope="module")
def example_corpus(work):
    """The README's quick start, run: its corpus is what the synopses work on."""
    check_main_command(run_block(SHELL_BLOCKS[0], work), work)
    return work / "examples" / "basic" / "corpus"


@pytest.mark.parametrize("n", range(1, len(BLOCK_CHECKS)))
def test_shell_block(n, work, example_corpus, request):
    if BLOCK_CHECKS[n] is check_smollm2:  # its weights, fetched once per session into the cache the block uses
        request.getfixturevalue("smollm2_gguf")
    BLOCK_CHECKS[n](run_block(SHELL_BLOCKS[n], work), work)


def test_quick_start_builds_the_example(example_corpus):
    assert (example_corpus / "manifest.json").is_file()  # checked in full by check_main_command


@pytest.mark.parametrize("line", [line for line, command in SYNOPSES.items() if command])
def test_synopsis(line, work, example_corpus, tmp_path):
    command = SYNOPSES[line].format(corpus=example_corpus, config=work / "examples" / "basic" / "config.yaml",
                                    out=tmp_path)
    done = run_block([command], work)
    made = re.search(r"--output (\S+)", command)
    if made:
        assert (pathlib.Path(made.group(1)) / "manifest.json").is_file()
    if "--dry-run" in command:
        assert done.stdout.startswith("tunescribe filter (dry run): "), done.stdout[-2000:]


def test_exit_codes_are_listed_in_the_readme_and_the_help():
    listed = re.search(r"- Exit codes, the same for every command(.*?)\n(?=- |\n)", README, re.S).group(1)
    listed = " ".join(listed.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in listed, (code, meaning)
    shown = subprocess.run([os.path.join(os.path.dirname(sys.executable), "tunescribe"), "--help"],
                           capture_output=True, text=True, check=True).stdout
    shown = " ".join(shown.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in shown


def test_estimate_of_a_changed_config_leaves_the_built_corpus_as_it_was(work, example_corpus):
    """`tunescribe estimate CONFIG` (README, "Model captions"): what would the example cost cut into
    5 s clips? Its first stages make new clips, whose audio must not land in the corpus's store."""
    def tree():
        return {str(p.relative_to(example_corpus)): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in example_corpus.rglob("*")}

    config = (work / "config.yaml").read_text()
    (work / "changed.yaml").write_text(config.replace("output: corpus", "output: examples/basic/corpus")
                                       .replace("window_s: 10", "window_s: 5"))
    before = tree()
    done = run_block(["tunescribe estimate changed.yaml"], work)
    assert done.stdout.startswith("tunescribe: estimate (no model was called)")
    assert tree() == before
