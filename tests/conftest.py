"""Shared fixtures: where the shared test data lives, and small synthetic audio."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import soundfile as sf

from fault_table import ROWS as FAULT_ROWS, fault_log, summary_lines  # noqa: F401 (fixture)
from model_weights import smollm2_gguf, yamnet_folder  # noqa: F401 (fixtures)

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
    audio (tests/mtg_corpus.py): .root, .config, .corpus; shared by the corpus-product tests."""
    from mtg_corpus import build_mtg_corpus

    tsv = shared_data / "mtg-jamendo" / "autotagging-validation.tsv"
    if not tsv.is_file():
        pytest.skip(f"MTG-Jamendo manifest not found at {tsv}")
    return build_mtg_corpus(tsv, tmp_path_factory.mktemp("mtg"))


def tone(seconds: float, rate: int = 22050, freq: float = 440.0, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    """A sine tone, float32 shaped (frames, channels) as soundfile writes it."""
    t = np.arange(int(seconds * rate)) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def write_audio(path, seconds: float = 5.0, rate: int = 22050, freq: float = 440.0, amp: float = 0.5,
                channels: int = 1, **kwargs) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, rate, freq, amp, channels), rate, **kwargs)
    return path


def pytest_terminal_summary(terminalreporter):
    """The reliability suite's table: fault kind -> outcome, with totals (tests/fault_table.py)."""
    lines = summary_lines(FAULT_ROWS)
    if lines:
        terminalreporter.section("faults injected")
        for line in lines:
            terminalreporter.write_line(line)
