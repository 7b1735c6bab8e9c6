"""Shared fixtures: where the shared test data lives, the model weights, the MTG-derived corpus."""

from __future__ import annotations

import pathlib

import pytest
from fault_table import ROWS as FAULT_ROWS
from fault_table import fault_log, summary_lines  # noqa: F401 (fault_log: a fixture)
from model_weights import smollm2_gguf, smollm2_hf, yamnet_folder  # noqa: F401 (fixtures)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """../shared/data beside the checkout; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def audio_dev(shared_data) -> pathlib.Path:
    path = shared_data / "audio-dev"
    if not (path / "manifest.jsonl").is_file():
        pytest.skip(f"audio-dev data not found at {path}")
    return path


@pytest.fixture(scope="session")
def musiccaps(shared_data) -> pathlib.Path:
    """The MusicCaps CSV (train and eval split, by its is_audioset_eval column)."""
    path = shared_data / "musiccaps" / "musiccaps-public.csv"
    if not path.is_file():
        pytest.skip(f"MusicCaps CSV not found at {path}")
    return path


@pytest.fixture(scope="session")
def mtg_corpus(shared_data, tmp_path_factory):
    """A corpus built by a real `tunescribe build` from MTG-Jamendo validation ids with synthetic
    audio (tests/support/mtg_corpus.py): .root, .config, .corpus; shared by the corpus-product tests."""
    from mtg_corpus import build_mtg_corpus

    tsv = shared_data / "mtg-jamendo" / "autotagging-validation.tsv"
    if not tsv.is_file():
        pytest.skip(f"MTG-Jamendo manifest not found at {tsv}")
    return build_mtg_corpus(tsv, tmp_path_factory.mktemp("mtg"))


def pytest_terminal_summary(terminalreporter):
    """The reliability suite's table: fault kind -> outcome, with totals (tests/support/fault_table.py)."""
    lines = summary_lines(FAULT_ROWS)
    if lines:
        terminalreporter.section("faults injected")
        for line in lines:
            terminalreporter.write_line(line)
