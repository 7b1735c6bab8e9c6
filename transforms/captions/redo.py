"""A committed clip whose model captions are asked again: the element of a rerun's caption redo.

When a caption failed for a transient reason (endpoint down, rate-limited, timed out, inference
failed), the clip itself went on and was committed to the resume ledger. A rerun restores the clip
as committed — decode, stats, attributes and its other captions stay — and sends it through the
model caption stages once more with the names (`Reject.part`) of the captions to ask for again.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import apache_beam as beam

from tunescribe.schemas import Clip


@dataclasses.dataclass(frozen=True)
class Redo:
    clip: Clip
    parts: frozenset  # caption names, CAPTIONER/PROMPT@VERSION (model_captions.caption_part)


def on_clip(element, fn: Callable[[Clip], Clip]):
    """`fn` applied to a clip, or to a Redo's clip."""
    return dataclasses.replace(element, clip=fn(element.clip)) if isinstance(element, Redo) else fn(element)


class ForClips(beam.DoFn):
    """A DoFn over clips (e.g. LoadAudio) applied to clips and to Redos' clips alike."""

    def __init__(self, dofn: beam.DoFn):
        self.dofn = dofn

    def setup(self):
        self.dofn.setup()

    def process(self, element):
        if not isinstance(element, Redo):
            yield from self.dofn.process(element)
            return
        for clip in self.dofn.process(element.clip):
            yield dataclasses.replace(element, clip=clip)

    def teardown(self):
        self.dofn.teardown()
