"""Config validation: a wrong key or value is a clear message before any work starts."""

import subprocess
import sys

import pytest

from tunescribe.pipelines.config import ConfigError, check_inputs, load_config

GOOD = """
name: demo
output: out
inputs:
  - type: manifest
    path: m.csv
    columns: {path: file, tags: genre}
shards: {max_bytes: 64MiB}
"""


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_good_config_resolves_paths_relative_to_the_file(tmp_path):
    cfg = load_config(str(_write(tmp_path, GOOD)))
    assert cfg.inputs[0].path == str(tmp_path / "m.csv") and cfg.output == str(tmp_path / "out")
    assert cfg.inputs[0].columns.tags == ["genre"] and cfg.shards.max_bytes == 64 * 2**20
    assert load_config(str(_write(tmp_path, GOOD)), output="/elsewhere").output == "/elsewhere"


def test_hash_ignores_output_but_not_settings(tmp_path):
    a = load_config(str(_write(tmp_path, GOOD)))
    assert a.config_hash() == load_config(str(_write(tmp_path, GOOD)), output="/x").config_hash()
    assert a.config_hash() != load_config(str(_write(tmp_path, GOOD + "audio: {sample_rate: 16000}\n"))).config_hash()


@pytest.mark.parametrize("extra,message", [
    ("audio: {sample_rat: 16000}", "audio.sample_rat: Extra inputs are not permitted"),
    ("audio: {channels: 3}", "audio.channels"),
    ("segment: {window_s: -1}", "segment.window_s"),
    ("segment: {window_s: 5, hop_s: 10}", "hop_s larger than window_s"),
    ("shards: {max_bytes: lots}", "not a size"),
    ("quality: {max_silence_ratio: 2}", "quality.max_silence_ratio"),
])
def test_bad_values_name_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError) as exc:
        load_config(str(_write(tmp_path, GOOD + extra + "\n")))
    assert message in str(exc.value)


def test_bad_name_and_missing_inputs(tmp_path):
    with pytest.raises(ConfigError, match="name"):
        load_config(str(_write(tmp_path, GOOD.replace("name: demo", "name: my.corpus"))))
    with pytest.raises(ConfigError, match="no file at"):
        check_inputs(load_config(str(_write(tmp_path, GOOD))))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(_write(tmp_path, "name: [")))


def test_cli_reports_bad_config_and_does_no_work(tmp_path):
    path = _write(tmp_path, GOOD + "typo_section: 1\n")
    proc = subprocess.run([sys.executable, "-m", "tunescribe.pipelines.cli", "build", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "typo_section: Extra inputs are not permitted" in proc.stderr
    assert not (tmp_path / "out").exists()
