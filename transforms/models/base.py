"""The one model-handler interface every model stage uses (tagging, captioning, audio-text scores).

It is Beam's own `ModelHandler`, so stages run through `RunInference`: batching by
`BatchElements`, one model per worker process (or shared across processes) through `Shared`,
failures routed by `RunModel` (transforms/stage.py). This base adds what tunescribe needs of
every backend: where the model comes from (hub id or local folder, revision), its identity for
provenance, batch sizing from config, and the resource hints of a model on an accelerator. Heavy models load in `load_model`, which
Beam calls on the worker — never in `__init__`. Handlers know no prompts: stages build inputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Generic, Optional, TypeVar

from apache_beam.ml.inference.base import ModelHandler

ExampleT = TypeVar("ExampleT")
PredictionT = TypeVar("PredictionT")
ModelT = TypeVar("ModelT")


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a hub id (`org/name`) or a local folder, plus how to run it.

    A GGUF checkpoint is named either as the `.gguf` file itself or as a folder (or hub id) plus
    `gguf_file`; the first form is split into the second here, so `model` is always what
    `from_pretrained` takes and `gguf_file` rides along in its keyword arguments."""

    model: str
    revision: Optional[str] = None  # hub branch/tag/commit; ignored for local folders
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "auto"
    dtype: str = "auto"  # "auto", "float32", "float16", "bfloat16"
    local_files_only: bool = False  # never touch the network, even for hub ids
    trust_remote_code: bool = False
    gguf_file: Optional[str] = None  # a GGUF checkpoint in `model` (transformers de-quantises it on load)

    def __post_init__(self):
        if self.gguf_file is None and self.model.endswith(".gguf"):
            folder, name = os.path.split(os.path.abspath(self.model))
            object.__setattr__(self, "model", folder)
            object.__setattr__(self, "gguf_file", name)

    @property
    def is_local(self) -> bool:
        return os.path.isdir(self.model)

    @property
    def gguf_path(self) -> Optional[str]:
        """The local GGUF file, if the model is one."""
        return os.path.join(self.model, self.gguf_file) if self.gguf_file and self.is_local else None

    def identity(self) -> tuple[str, str]:
        """(model id, revision) for provenance. A local folder has no hub revision, so its
        revision is a hash of its config files: a different model in the same folder shows.
        A local GGUF file is its own revision: its sha256."""
        if self.gguf_path:
            return self.gguf_file, gguf_sha256(self.gguf_path)
        if not self.is_local:
            model = f"{self.model}/{self.gguf_file}" if self.gguf_file else self.model
            return model, self.revision or "main"
        digest = hashlib.sha256()
        for name in sorted(os.listdir(self.model)):
            if name.endswith(".json"):
                with open(os.path.join(self.model, name), "rb") as f:
                    digest.update(name.encode() + b"\0" + f.read())
        return os.path.basename(os.path.normpath(self.model)), "local-" + digest.hexdigest()[:12]

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.is_local or self.local_files_only:
            kwargs["local_files_only"] = True
        if self.revision and not self.is_local:
            kwargs["revision"] = self.revision
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        return kwargs


_GGUF_SHA256: dict[tuple, str] = {}


def gguf_sha256(path: str) -> str:
    """The file's sha256, hashed once per process and file version: identity() is asked for
    per worker and per stage, and a GGUF is tens to thousands of MB."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _GGUF_SHA256:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _GGUF_SHA256[key] = digest.hexdigest()
    return _GGUF_SHA256[key]


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
