"""Resource hints for the model stages: an accelerator (and RAM) for the workers that run models.

Every model stage runs through Beam's `RunInference` (transforms/models/base.py), so the build
finds the model stages in the composed graph instead of each stage having to remember: every
`RunInference` whose handler runs a local model on a device other than the CPU gets the
configured hints (`resources.accelerator`, `resources.min_ram`), and nothing else does. Stages
calling an HTTP endpoint, or a model pinned to `device: cpu`, stay on ordinary workers.

Runners that honour hints (Dataflow, "right fitting") give those steps GPU workers and the rest
CPU workers; runners that ignore hints (Direct, Flink, Spark) run the same graph unchanged.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.pipeline import PipelineVisitor
from apache_beam.transforms.resources import merge_resource_hints, parse_resource_hints

from tunescribe.transforms.models.base import TunescribeModelHandler

# How Beam's and tunescribe's handler wrappers hold the handler they wrap (RunInference's own
# `_model_handler`, KeyedModelHandler's `_unkeyed`, the pre/post-processing wrappers' `_base`,
# captions' PerClipHandler's `inner`).
_WRAPPED = ("_model_handler", "_unkeyed", "_base", "inner")


def model_handler_of(transform: RunInference) -> Optional[TunescribeModelHandler]:
    """The tunescribe handler a RunInference runs, through any wrappers; None if it is another kind."""
    handler, seen = transform, set()
    while handler is not None and id(handler) not in seen:
        if isinstance(handler, TunescribeModelHandler):
            return handler
        seen.add(id(handler))
        handler = next((getattr(handler, a) for a in _WRAPPED if getattr(handler, a, None) is not None), None)
    return None


def needs_accelerator(transform: RunInference) -> bool:
    """A model that runs in the worker on cuda/auto does; an HTTP backend or a CPU model does not.
    A handler of a kind this does not know gets the hints: the config asked for them."""
    handler = model_handler_of(transform)
    if handler is None:
        return True
    return handler.source is not None and handler.source.device != "cpu"


def request_model_resources(pipeline: beam.Pipeline, hints: dict[str, str]) -> list[str]:
    """Puts `hints` (Beam `with_resource_hints` keywords) on every model stage of `pipeline` that
    runs a model on an accelerator; returns those stages' labels. Call it once the graph is built:
    hints set on a node reach the steps inside it here, as Beam does when it applies a hinted
    composite."""
    if not hints:
        return []
    parsed = parse_resource_hints(hints)
    hinted: list[str] = []

    def put(node):
        node.resource_hints = merge_resource_hints(outer_hints=parsed, inner_hints=node.resource_hints)
        for part in node.parts:
            put(part)

    class _Visitor(PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, RunInference) and needs_accelerator(node.transform):
                put(node)
                hinted.append(node.full_label)

    pipeline.visit(_Visitor())
    return hinted
