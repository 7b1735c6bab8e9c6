"""ModelSource: a .gguf named as the file or as folder + file is one model, split when read (the
config resolves a relative path after validation); identity and from_pretrained's arguments."""

from __future__ import annotations

import hashlib

import pydantic
import pytest

from tunescribe.transforms.models.settings import ModelSource


def test_a_gguf_file_reads_as_its_folder_plus_file(tmp_path):
    (tmp_path / "m.Q4.gguf").write_bytes(b"GGUF weights")
    as_file = ModelSource(model=str(tmp_path / "m.Q4.gguf"))
    as_pair = ModelSource(model=str(tmp_path), gguf_file="m.Q4.gguf")
    assert as_file.model == str(tmp_path / "m.Q4.gguf")  # as written: the config resolves it later
    assert as_file.checkpoint == as_pair.checkpoint == (str(tmp_path), "m.Q4.gguf")
    assert as_file.pretrained == str(tmp_path) and as_file.gguf_path == str(tmp_path / "m.Q4.gguf")
    assert as_file.from_pretrained_kwargs() == as_pair.from_pretrained_kwargs() == {
        "trust_remote_code": False, "local_files_only": True, "gguf_file": "m.Q4.gguf"}
    assert as_file.identity() == as_pair.identity() == ("m.Q4.gguf", hashlib.sha256(b"GGUF weights").hexdigest())


def test_a_hub_model_keeps_its_revision_and_a_folder_hashes_its_configs(tmp_path):
    hub = ModelSource(model="org/name", revision="v2", gguf_file="q.gguf", local_files_only=True)
    assert hub.identity() == ("org/name/q.gguf", "v2") and ModelSource(model="org/name").identity()[1] == "main"
    assert hub.from_pretrained_kwargs() == {"trust_remote_code": False, "local_files_only": True,
                                            "revision": "v2", "gguf_file": "q.gguf"}
    (tmp_path / "config.json").write_text('{"a": 1}')
    before = ModelSource(model=str(tmp_path)).identity()
    (tmp_path / "config.json").write_text('{"a": 2}')
    after = ModelSource(model=str(tmp_path)).identity()
    assert before[0] == after[0] == tmp_path.name and before[1] != after[1] and before[1].startswith("local-")


@pytest.mark.parametrize("bad", [{"model": ""}, {"model": "m", "dtype": "float8"}, {"model": "m", "gguf_file": "x.bin"},
                                 {"model": "m", "devise": "cuda"}])
def test_bad_settings_are_errors(bad):
    with pytest.raises(pydantic.ValidationError):
        ModelSource(**bad)
