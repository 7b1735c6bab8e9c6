"""examples/contrastive/train.py, run as a user runs it: it builds its corpus from synthetic audio,
streams it with the training loader and trains a tiny audio-text model whose loss must fall."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "contrastive" / "train.py"


def run_example(workdir: pathlib.Path, out: pathlib.Path, steps: int = 200, seed: int = 0) -> dict:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--workdir", str(workdir), "--steps", str(steps),
                           "--seed", str(seed), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mean loss first 50 steps" in done.stdout
    return json.loads(out.read_text())


def test_contrastive_example_loss_falls(tmp_path):
    result = run_example(tmp_path / "work", tmp_path / "losses.json")
    losses = result["losses"]
    assert len(losses) == 200 and all(np.isfinite(losses))
    first, last = np.mean(losses[:50]), np.mean(losses[-50:])
    assert (result["first50"], result["last50"]) == (first, last)
    # chance for in-batch matching of 16 is ln 16 = 2.77; learning the styles must take it well below
    assert last < 0.75 * first, (first, last)
    corpus = tmp_path / "work" / "corpus"
    assert (corpus / "manifest.json").is_file() and (corpus / "train.wids.json").is_file()
