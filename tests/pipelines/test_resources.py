"""Resource hints for model stages (pipelines/resources.py) and the `resources` config section."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.portability import common_urns
from pydantic import ValidationError

from tunescribe.pipelines.config import BuildConfig, ResourcesConfig
from tunescribe.pipelines.resources import request_model_resources
from tunescribe.transforms.models.base import ModelSource, TunescribeModelHandler

ACCELERATOR_URN = common_urns.resource_hints.ACCELERATOR.urn
GPU = "type:nvidia-tesla-t4;count:1;install-nvidia-driver"


class Echo(TunescribeModelHandler[int, int, None]):
    def load_model(self):
        return None

    def run_inference(self, batch, model, inference_args=None):
        return list(batch)


class HttpEcho(Echo):
    """Like an endpoint backend: no ModelSource."""


def graph(hints: dict) -> tuple[list[str], dict[str, dict]]:
    p = beam.Pipeline()
    nums = p | beam.Create([1, 2])
    nums | "Cuda" >> RunInference(Echo(ModelSource("org/model", device="cuda")))
    nums | "Auto" >> beam.Map(lambda x: (x, x)) | "KeyedAuto" >> RunInference(
        KeyedModelHandler(Echo(ModelSource("org/model", device="auto"))))
    nums | "Cpu" >> RunInference(Echo(ModelSource("org/model", device="cpu")))
    nums | "Http" >> RunInference(HttpEcho())
    nums | "NotAModel" >> beam.Map(str)
    labels = request_model_resources(p, hints)
    proto = p.to_runner_api()
    envs = proto.components.environments
    leaf_hints = {t.unique_name: dict(envs[t.environment_id].resource_hints) if t.environment_id else {}
                  for t in proto.components.transforms.values() if not t.subtransforms}
    return labels, leaf_hints


def test_hints_go_to_models_on_an_accelerator_only():
    labels, leaf_hints = graph({"accelerator": GPU, "min_ram": "8GB"})
    assert sorted(labels) == ["Cuda", "KeyedAuto"]
    hinted = {name for name, h in leaf_hints.items() if ACCELERATOR_URN in h}
    assert hinted and all(name.startswith(("Cuda/", "KeyedAuto/")) for name in hinted)
    assert any(name.startswith("Cuda/BeamML_RunInference") for name in hinted)
    assert all(leaf_hints[n][ACCELERATOR_URN] == GPU.encode() for n in hinted)
    for name, h in leaf_hints.items():
        if name.startswith(("Cpu/", "Http/", "NotAModel", "Auto", "Create")):
            assert not h, name


def test_no_hints_configured_changes_nothing():
    labels, leaf_hints = graph({})
    assert labels == [] and not any(leaf_hints.values())


def test_resources_section_is_validated():
    assert ResourcesConfig(accelerator=GPU, min_ram="16GB").hints() == {"accelerator": GPU, "min_ram": "16GB"}
    assert ResourcesConfig().hints() == {}
    for bad in ({"accelerator": "nvidia-l4"}, {"accelerator": "type:nvidia-l4;count:0"},
                {"accelerator": "type:nvidia-l4;count:one"}, {"min_ram": "lots"}, {"gpus": 1}):
        with pytest.raises(ValidationError):
            ResourcesConfig(**bad)


def test_where_it_runs_does_not_change_the_config_hash():
    base = {"name": "c", "output": "out", "inputs": [{"type": "folder", "path": "music"}]}
    plain = BuildConfig.model_validate(base)
    on_gpu = BuildConfig.model_validate({**base, "resources": {"accelerator": GPU}})
    assert plain.config_hash() == on_gpu.config_hash()
