"""Every setting has one definition: the config embeds the stages' own settings types.

The test walks every model the build config is made of and every settings-like type of the
stages (each dataclass and pydantic model in tunescribe.transforms, and the keyword defaults of
every other class there, such as a DoFn's), and fails on a config section that repeats a stage
type's settings (same names, same defaults) instead of embedding it: two lists of fields and
defaults that agree today only by care.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import sys
import typing

import pytest
from pydantic import BaseModel

import tunescribe.transforms
from tunescribe.pipelines.config import BuildConfig, ConfigError, load_config
from tunescribe.transforms.attributes.settings import TaggerSettings
from tunescribe.transforms.audio.settings import AudioSettings, SegmentSettings, StatsSettings
from tunescribe.transforms.captions.settings import TemplateCaptions
from tunescribe.transforms.corpus.settings import ErrorRatioGuard
from tunescribe.transforms.ingest.settings import ColumnMapping, RemoteOptions, YoutubeOptions
from tunescribe.transforms.models.generation import Endpoint, GenerationParams
from tunescribe.transforms.models.settings import ModelSource
from tunescribe.transforms.quality.rules import CaptionRules
from tunescribe.transforms.quality.settings import Decisions, DedupRules, EvalSetSpec
from tunescribe.transforms.settings import Settings

EMBEDDED = {AudioSettings, SegmentSettings, StatsSettings, ColumnMapping, RemoteOptions, YoutubeOptions, Decisions,
            CaptionRules, DedupRules, EvalSetSpec, ErrorRatioGuard, GenerationParams, Endpoint, TemplateCaptions,
            ModelSource, TaggerSettings}


def _types(annotation):
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def _models(model, seen: set) -> set:
    if model not in seen:
        seen.add(model)
        for f in model.model_fields.values():
            for t in _types(f.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    _models(t, seen)
    return seen


def _stage_types() -> set:
    found = set()
    for info in pkgutil.walk_packages(tunescribe.transforms.__path__, "tunescribe.transforms."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                found.add(value)
    return found


def _defaults(cls) -> dict:
    """name -> default of each setting that has one (lists as tuples: YAML gives lists, stages tuples)."""
    if dataclasses.is_dataclass(cls):
        out = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
               for f in dataclasses.fields(cls)
               if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    elif issubclass(cls, BaseModel):
        out = {n: f.get_default(call_default_factory=True) for n, f in cls.model_fields.items() if not f.is_required()}
    else:  # a stage class taking its settings as keyword arguments
        try:
            params = inspect.signature(cls.__init__).parameters.values()
        except (TypeError, ValueError):  # a builtin's __init__
            return {}
        out = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return {n: tuple(v) if isinstance(v, list) else v for n, v in out.items()}


def _shared(config, stage) -> dict:
    """The settings both define, by name and default. Left out: defaults of None (no value is no
    setting of its own) and settings objects (a stage taking the config's own section type)."""
    theirs = _defaults(stage)
    return {n: v for n, v in _defaults(config).items()
            if v is not None and not isinstance(v, BaseModel) and n in theirs and theirs[n] == v}


def _mirrors(configs, stages) -> set:
    """(config model, stage type) where half or more of the stage type's defaulted settings (two at least)
    are written again in the config model; a model that inherits the stage type embeds it."""
    out = set()
    for config in configs:
        for stage in stages:
            if stage is config or issubclass(config, stage):
                continue
            shared = _shared(config, stage)
            if len(shared) >= 2 and 2 * len(shared) >= len(_defaults(stage)):
                out.add((config.__name__, stage.__name__))
    return out


@pytest.fixture(scope="module")
def walked():
    models = _models(BuildConfig, set())
    configs = {m for m in models if m.__module__.startswith("tunescribe.pipelines")}
    # a config model embeds a stage type as a field's type or as its base (a captioner is an Endpoint)
    embedded = {t for m in models for t in m.__mro__ if t.__module__.startswith("tunescribe.transforms")}
    return embedded, configs, _stage_types()


def test_the_config_embeds_the_stages_settings_types(walked):
    embedded, configs, stages = walked
    assert EMBEDDED <= embedded, f"not embedded: {sorted(t.__name__ for t in EMBEDDED - embedded)}"
    assert EMBEDDED <= stages
    for t in EMBEDDED:
        assert issubclass(t, Settings) and t.model_config["frozen"] and t.model_config["extra"] == "forbid", t


def test_no_config_section_repeats_a_stage_types_settings(walked):
    _, configs, stages = walked
    assert len(configs) > 10 and len(stages) > 100  # the walk reached the whole config and every stage module
    assert _mirrors(configs, stages) == set()


def test_the_check_finds_a_mirrored_section(walked):
    """A section written the old way (its own copy of the dedup settings) is caught."""
    _, _, stages = walked

    class DedupConfig(Settings):
        exact_audio: bool = True
        max_ber: typing.Optional[float] = 0.1
        min_overlap_s: float = 5.0
        min_coverage: float = 0.5
        max_bucket: int = 200
        caption_jaccard: typing.Optional[float] = None
        num_perm: int = 128

    class Embedding(Settings):
        dedup: DedupRules = DedupRules()

    class Inheriting(DedupRules):
        extra: int = 1

    assert _mirrors({DedupConfig, Embedding, Inheriting}, stages) == {("DedupConfig", "DedupRules")}

    class FindNearCopies:  # a stage taking the same settings as keywords
        def __init__(self, clips, min_overlap_s: float = 5.0, min_coverage: float = 0.5, workers: int = 4):
            self.clips = clips

    assert _mirrors({DedupConfig, Embedding}, {FindNearCopies}) == {("DedupConfig", "FindNearCopies")}


def test_reading_a_config_does_not_import_beam(tmp_path):
    """The settings types live in Beam-free modules, so validating a config stays quick."""
    import subprocess

    code = ("import sys; import tunescribe.pipelines.config; "
            "print(sorted(m for m in sys.modules if m == 'apache_beam' or m == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"


GOOD = """name: demo
output: out
inputs: [{type: manifest, path: m.csv}]
"""


@pytest.mark.parametrize("extra,message", [
    ("quality: {captions: {max_words: 0}}", "quality.captions.max_words"),
    ("quality: {dedup: {max_ber: 0.9}}", "quality.dedup.max_ber"),
    ("quality: {decontaminate: [{name: x}]}", "quality.decontaminate.0.path: Field required"),
    ("remote: {max_bytes: 12 parsecs}", "remote.max_bytes"),
    ("remote: {max_bytes: 100}", "remote.max_bytes: Input should be greater than or equal to 1024"),
    ("youtube: {url_template: 'https://x/{idd}'}", "youtube.url_template"),
    ("youtube: {sleep_s: 2, max_sleep_s: 1}", "max_sleep_s must be at least sleep_s"),
    ("youtube: {rate_limit: fast}", "youtube.rate_limit"),
    ("inputs: [{type: manifest, path: m.csv, columns: {pth: p}}]", "inputs.0.manifest.columns.pth: Extra inputs"),
    ("errors: {per_stage: {dedup: 0.5}}", "unknown stage(s) ['dedup']"),
    ("tagging: {model: m, activation: tanh}", "tagging.activation"),
    ("tagging: {model: m, top_k: 0}", "tagging.top_k"),
    ("clap: {model: m, dtype: float8}", "clap.dtype"),
    ("captions: {models: [{backend: openai, base_url: 'http://h/v1', model: m, generation: {top_p: 0}}]}",
     "captions.models.0.openai.generation.top_p"),
])
def test_bad_stage_settings_are_config_errors_naming_the_key(tmp_path, extra, message):
    config = tmp_path / "c.yaml"
    config.write_text(GOOD + extra + "\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(config))
    assert message in str(exc.value)


def test_sizes_read_as_bytes(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(GOOD + "remote: {max_bytes: 200MiB}\nyoutube: {rate_limit: 2MiB}\nshards: {max_bytes: 1GB}\n")
    cfg = load_config(str(config))
    assert (cfg.remote.max_bytes, cfg.youtube.rate_limit, cfg.shards.max_bytes) == (200 * 2**20, 2 * 2**20, 10**9)
