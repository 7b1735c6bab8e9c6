"""The one model-handler interface every model stage uses (tagging, captioning, audio-text scores).

It is Beam's own `ModelHandler`, so stages run through `RunInference`: batching by
`BatchElements`, one model per worker process (or shared across processes) through `Shared`,
failures routed by `RunModel` (transforms/stage.py). This base adds what tunescribe needs of
every backend: where the model comes from (ModelSource, models/settings.py), its identity for
provenance, batch sizing from config, and the resource hints of a model on an accelerator. Heavy models load in `load_model`, which
Beam calls on the worker — never in `__init__`. Handlers know no prompts: stages build inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, Optional, TypeVar

from apache_beam.ml.inference.base import ModelHandler

from tunescribe.transforms.models.settings import ModelSource

ExampleT = TypeVar("ExampleT")
PredictionT = TypeVar("PredictionT")
ModelT = TypeVar("ModelT")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclasses.dataclass(frozen=True)
class Batching:
    """How RunInference runs one model stage: batch sizes, model sharing, and the Beam resource
    hints (config `resources`: an accelerator, RAM) its inference step asks for."""

    min_batch_size: int = 1
    max_batch_size: int = 8
    max_batch_duration_secs: Optional[float] = None  # flush a partial batch after this long
    share_across_processes: bool = False  # one copy per machine (large models) instead of per process
    model_copies: Optional[int] = None  # with share_across_processes: how many copies per machine
    resource_hints: dict = dataclasses.field(default_factory=dict)  # `with_resource_hints` keywords


class TunescribeModelHandler(ModelHandler[ExampleT, PredictionT, ModelT], Generic[ExampleT, PredictionT, ModelT]):
    """Base for tunescribe's handlers; subclasses implement `load_model` and `run_inference`."""

    def __init__(self, source: Optional[ModelSource] = None, batching: Batching = Batching()):
        super().__init__()
        self.source = source
        self.batching = batching
        if batching.share_across_processes:
            # Beam then keeps the model in a server process (one per copy per machine) and hands
            # the workers a proxy that forwards method calls only, not attribute reads: so the
            # whole batch runs over there, through ServedModel.run.
            self.load_model = self._load_served
            self.run_inference = self._run_served

    def _load_served(self) -> "ServedModel":
        return ServedModel(self, type(self).load_model(self))

    def _run_served(self, batch, model: "ServedModel", inference_args=None):
        return model.run(batch, inference_args)

    def model_identity(self) -> tuple[str, Optional[str]]:
        """(model id, revision) that every output records; HTTP backends override it."""
        return self.source.identity() if self.source else (type(self).__name__, None)

    def load_pretrained(self, auto_class) -> tuple[Any, str]:
        """`auto_class.from_pretrained` of the source, in eval mode on its device: (model, device)."""
        import torch

        device, dtype = resolve_device(self.source.device), self.source.dtype
        dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        model = auto_class.from_pretrained(self.source.pretrained, dtype=dtype, **self.source.from_pretrained_kwargs())
        return model.to(device).eval(), device

    def batch_elements_kwargs(self) -> dict[str, Any]:
        kwargs = {"min_batch_size": self.batching.min_batch_size, "max_batch_size": self.batching.max_batch_size}
        if self.batching.max_batch_duration_secs is not None:
            kwargs["max_batch_duration_secs"] = self.batching.max_batch_duration_secs
        return kwargs

    def share_model_across_processes(self) -> bool:
        return self.batching.share_across_processes

    def model_copies(self) -> int:
        return self.batching.model_copies or 1

    def get_metrics_namespace(self) -> str:
        return "tunescribe." + type(self).__name__

    def get_resource_hints(self) -> dict:
        """RunInference puts these on its inference step. Only a model that runs in the worker on
        cuda/auto gets them: an HTTP backend (no source) or a model pinned to the CPU runs on
        ordinary workers. Runners that ignore hints (Direct, Flink, Spark) run the same graph."""
        on_accelerator = self.source is not None and self.source.device != "cpu"
        return dict(self.batching.resource_hints) if on_accelerator else {}


class ServedModel:
    """A model shared across processes, with the handler that runs it: one call per batch."""

    def __init__(self, handler: TunescribeModelHandler, model: Any):
        self.handler, self.model = handler, model

    def run(self, batch, inference_args=None) -> list:
        return list(type(self.handler).run_inference(self.handler, batch, self.model, inference_args))
