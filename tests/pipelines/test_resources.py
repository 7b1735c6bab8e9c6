"""Resource hints for model stages (each handler's `get_resource_hints`) and the `resources` config section."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.portability import common_urns
from pydantic import ValidationError

from tunescribe.pipelines.config import BuildConfig, ResourcesConfig
from tunescribe.transforms.captions.model_captions import PerClipHandler
from tunescribe.transforms.models.base import Batching, ModelSource, TunescribeModelHandler

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
    """(labels of the hinted RunInference steps, hints of every leaf step)."""
    on = Batching(resource_hints=hints)
    p = beam.Pipeline()
    nums = p | beam.Create([1, 2])
    nums | "Cuda" >> RunInference(Echo(ModelSource(model="org/model", device="cuda"), on))
    nums | "Auto" >> beam.Map(lambda x: (x, x)) | "KeyedAuto" >> RunInference(
        KeyedModelHandler(Echo(ModelSource(model="org/model", device="auto"), on)))
    nums | "PerClip" >> RunInference(PerClipHandler(Echo(ModelSource(model="org/model", device="cuda:1"), on)))
    nums | "Cpu" >> RunInference(Echo(ModelSource(model="org/model", device="cpu"), on))
    nums | "Http" >> RunInference(HttpEcho(None, on))
    nums | "NotAModel" >> beam.Map(str)
    proto = p.to_runner_api()
    envs = proto.components.environments
    leaf_hints = {t.unique_name: dict(envs[t.environment_id].resource_hints) if t.environment_id else {}
                  for t in proto.components.transforms.values() if not t.subtransforms}
    labels = sorted({name.split("/")[0] for name, h in leaf_hints.items() if ACCELERATOR_URN in h})
    return labels, leaf_hints


def test_hints_go_to_models_on_an_accelerator_only():
    labels, leaf_hints = graph({"accelerator": GPU, "min_ram": "8GB"})
    assert labels == ["Cuda", "KeyedAuto", "PerClip"]  # the per-clip wrapper delegates its hints
    hinted = {name for name, h in leaf_hints.items() if ACCELERATOR_URN in h}
    assert all(name.split("/")[1].startswith("BeamML_RunInference") for name in hinted)  # the inference step
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
