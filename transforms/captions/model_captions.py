"""Captions written by a model: clips -> RunInference(one backend) -> clips with captions + rejects.

One `ModelCaptions` per configured captioner (a backend and the prompts it answers). Each clip
becomes one `ClipJob` holding a request per prompt; RunInference batches jobs by their request
count (text) or seconds of audio (audio), and the backend answers all requests of a batch in
one go (one `generate` call, or concurrent HTTP requests). The clip then flows on with one
caption per good answer, in prompt order, each with its provenance (prompt id and version,
model id and revision, seed, token usage). A request that failed (endpoint gave up, answer
malformed) is a reject row naming clip, captioner, prompt and reason — with the raw answer —
while the clip goes on with its other captions; a batch that raised is the same for each of
its requests. Clips are never joined back from parts: no shuffle of their audio.

A rerun sends committed clips whose captions failed for a transient reason through the same
stages as `Redo` elements (transforms/captions/redo.py), mixed with the fresh clips: for those,
only the named prompts are asked, and `InCaptionOrder` puts the new captions where an
uninterrupted run would have put them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence, Union

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import ModelHandler

from tunescribe.schemas import Caption, Clip, Reject
from tunescribe.transforms.captions.parse import read_answer
from tunescribe.transforms.captions.prompts import PREDICTED_ORIGIN, AudioPrompt, PromptTemplate, prompt_inputs
from tunescribe.transforms.captions.redo import Redo
from tunescribe.transforms.ingest.tags import normalise_tags
from tunescribe.transforms.models.base import TunescribeModelHandler
from tunescribe.transforms.models.generation import (
    AudioRequest,
    Generation,
    TextRequest,
    derive_seed,
    request_size,
)
from tunescribe.transforms.stage import REJECTS, Rejected, RunModel, reject_of, rejected_output

STAGE = "captions"
Prompt = Union[PromptTemplate, AudioPrompt]


@dataclasses.dataclass(frozen=True)
class Captioner:
    """A configured model and the prompts it answers for every clip."""

    name: str  # label in reject details and metrics, e.g. "local-lm"
    handler: TunescribeModelHandler
    prompts: tuple[Prompt, ...]
    seed: int = 0

    @property
    def audio(self) -> bool:
        return isinstance(self.prompts[0], AudioPrompt)


@dataclasses.dataclass(frozen=True, eq=False)
class ClipJob:
    clip: Clip
    prompts: tuple[Prompt, ...]
    requests: tuple[Union[TextRequest, AudioRequest], ...]
    redo: Optional[frozenset] = None  # a rerun's Redo: the parts it asks again (None: a fresh clip)

    def onward(self, clip: Clip):
        """What goes on to the next stage: the clip, or the Redo it came as."""
        return clip if self.redo is None else Redo(clip, self.redo)


def mono(clip: Clip) -> np.ndarray:
    if clip.samples is None:
        raise Rejected("no_audio", "the clip's PCM is not loaded (LoadAudio reads it from the audio store)")
    return np.ascontiguousarray(clip.samples.mean(axis=0, dtype=np.float32))


def build_job(clip: Clip, captioner: Captioner, prompts: Optional[tuple[Prompt, ...]] = None) -> Optional[ClipJob]:
    """The clip's requests (for `prompts`, default all the captioner's), or None when a text
    captioner has nothing to go on (no tags/attributes)."""
    prompts = captioner.prompts if prompts is None else prompts
    seeds = [derive_seed(captioner.seed, clip.key, p.ref) for p in prompts]
    if captioner.audio:
        pcm = mono(clip)
        requests = tuple(AudioRequest(pcm, clip.sample_rate, p.instruction, s) for p, s in zip(prompts, seeds))
    else:
        phrases = prompt_inputs(clip)
        if not phrases:
            return None
        requests = tuple(TextRequest(p.render(phrases), s) for p, s in zip(prompts, seeds))
    return ClipJob(clip, prompts, requests)


def job_size(job: ClipJob) -> int:
    return sum(request_size(r) for r in job.requests)


class PerClipHandler(ModelHandler[ClipJob, tuple[ClipJob, list[Generation]], Any]):
    """Adapts a backend handler (one request -> one generation) to clip jobs: a batch of jobs is
    one batch of all their requests, and the answers go back to their jobs."""

    def __init__(self, inner: TunescribeModelHandler):
        super().__init__()
        self.inner = inner

    def load_model(self):
        return self.inner.load_model()

    def run_inference(self, batch: Sequence[ClipJob], model, inference_args=None):
        flat = [r for job in batch for r in job.requests]
        answers = list(self.inner.run_inference(flat, model, inference_args))
        if len(answers) != len(flat):
            raise RuntimeError(f"backend answered {len(answers)} of {len(flat)} requests")
        out, i = [], 0
        for job in batch:
            out.append((job, answers[i:i + len(job.requests)]))
            i += len(job.requests)
        return out

    def batch_elements_kwargs(self):
        return {**self.inner.batch_elements_kwargs(), "element_size_fn": job_size}

    def get_num_bytes(self, batch: Sequence[ClipJob]) -> int:
        return self.inner.get_num_bytes([r for job in batch for r in job.requests])

    def share_model_across_processes(self) -> bool:
        return self.inner.share_model_across_processes()

    def model_copies(self) -> int:
        return self.inner.model_copies()

    def get_metrics_namespace(self) -> str:
        return self.inner.get_metrics_namespace()

    def get_resource_hints(self) -> dict:
        return self.inner.get_resource_hints()


def caption_part(captioner: Captioner, prompt: Prompt) -> str:
    """Names one caption of a clip (a reject's `part`): what a rerun asks again if it failed."""
    return f"{captioner.name}/{prompt.ref}"


def caption_reject(clip: Clip, captioner: Captioner, prompt: Prompt, rejected: Rejected, model_id: str) -> Reject:
    """One caption of `clip` that failed while the clip went on."""
    # model_id is looked up once per DoFn, not per reject: a local folder's identity hashes its files.
    detail = f"{captioner.name} {prompt.task} ({prompt.ref}, {model_id}): {rejected.detail}"
    return reject_of(STAGE, clip, Rejected(rejected.reason, detail, rejected.transient),
                     part=caption_part(captioner, prompt))


class _Jobs(beam.DoFn):
    """Clip (or Redo) -> ClipJob; clips with nothing to prompt on, and Redos with nothing to ask
    this captioner, go straight on (tag "skip")."""

    def __init__(self, captioner: Captioner):
        self.captioner = captioner

    def setup(self):
        self.no_inputs = beam.metrics.Metrics.counter(STAGE, f"{self.captioner.name}/no_inputs")
        self.model_id = self.captioner.handler.model_identity()[0]

    def process(self, element):
        clip, prompts = element, self.captioner.prompts
        if isinstance(element, Redo):
            clip = element.clip
            prompts = tuple(p for p in prompts if caption_part(self.captioner, p) in element.parts)
            if not prompts:
                yield beam.pvalue.TaggedOutput("skip", element)
                return
        try:
            job = build_job(clip, self.captioner, prompts)
        except Rejected as exc:
            yield beam.pvalue.TaggedOutput("skip", element)
            for p in prompts:
                yield rejected_output(caption_reject(clip, self.captioner, p, exc, self.model_id))
            return
        if job is None:
            self.no_inputs.inc()
            yield beam.pvalue.TaggedOutput("skip", element)
        else:
            yield dataclasses.replace(job, redo=element.parts) if isinstance(element, Redo) else job


class _Attach(beam.DoFn):
    """(ClipJob, generations) -> the clip with its new captions; rejects for failed answers."""

    def __init__(self, captioner: Captioner):
        self.captioner = captioner

    def setup(self):
        self.model_id, self.revision = self.captioner.handler.model_identity()
        self.backend = getattr(self.captioner.handler, "backend", type(self.captioner.handler).__name__)

    def process(self, element):
        job, answers = element
        clip, captions, predicted = job.clip, [], []
        for prompt, request, answer in zip(job.prompts, job.requests, answers):
            if not answer.ok:
                yield rejected_output(caption_reject(
                    clip, self.captioner, prompt, Rejected(answer.error, answer.detail, answer.transient), self.model_id))
                continue
            try:
                text, new_attributes = read_answer(getattr(prompt, "output", "text"), answer.text)
            except Rejected as exc:
                yield rejected_output(caption_reject(clip, self.captioner, prompt, exc, self.model_id))
                continue
            captions.append(Caption(
                text=text, task=prompt.task, backend=self.backend, prompt_id=prompt.id,
                prompt_version=prompt.version, model_id=self.model_id,
                model_revision=self.revision or answer.model_version, seed=request.seed,
                prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens))
            predicted += new_attributes
        tags = clip.tags
        if predicted:
            known = {t.name for t in tags}
            origin = PREDICTED_ORIGIN + self.model_id
            tags += tuple(t for t in normalise_tags(predicted, origin=origin) if t.name not in known)
        yield job.onward(dataclasses.replace(clip, captions=clip.captions + tuple(captions), tags=tags))


def _failed_job(job: ClipJob, rejected: Rejected, captioner: Captioner, model_id: str):
    """A job whose batch failed: the clip goes on uncaptioned, each of its requests is a reject."""
    yield job.onward(job.clip)
    for prompt in job.prompts:
        yield rejected_output(caption_reject(job.clip, captioner, prompt, rejected, model_id))


class InCaptionOrder(beam.DoFn):
    """Clips and Redos out of every caption stage -> clips, each Redo's captions in the order an
    uninterrupted run gives them: the template's first, then each captioner's in prompt order."""

    def __init__(self, captioners: Sequence[Captioner]):
        self.captioners = tuple(captioners)

    def setup(self):
        self.rank = {}
        for k, c in enumerate(self.captioners):
            backend = getattr(c.handler, "backend", type(c.handler).__name__)
            model_id = c.handler.model_identity()[0]
            for j, p in enumerate(c.prompts):
                self.rank[(backend, model_id, p.id, p.version)] = (k, j)

    def process(self, element):
        if not isinstance(element, Redo):
            yield element
            return
        clip = element.clip
        order = [self.rank.get((c.backend, c.model_id, c.prompt_id, c.prompt_version), (-1, i))
                 for i, c in enumerate(clip.captions)]
        captions = tuple(c for _, c in sorted(zip(order, clip.captions), key=lambda oc: oc[0]))
        yield dataclasses.replace(clip, captions=captions)


class ModelCaptions(beam.PTransform):
    """clips (and Redos) -> (clips (and Redos) with this captioner's captions, rejects)."""

    def __init__(self, captioner: Captioner):
        super().__init__()
        self.captioner = captioner

    def expand(self, clips):
        c = self.captioner
        jobs = clips | "Jobs" >> beam.ParDo(_Jobs(c)).with_outputs("skip", REJECTS, main="jobs")
        answered, failed = jobs.jobs | "Model" >> RunModel(PerClipHandler(c.handler), STAGE)
        attached = answered | "Attach" >> beam.ParDo(_Attach(c)).with_outputs(REJECTS, main="clips")
        recovered = failed | "FailedJobs" >> beam.ParDo(
            lambda failure, model_id: _failed_job(*failure, c, model_id), c.handler.model_identity()[0]
        ).with_outputs(REJECTS, main="clips")
        out = (jobs.skip, attached.clips, recovered.clips) | "Clips" >> beam.Flatten()
        rejects = (jobs[REJECTS], attached[REJECTS], recovered[REJECTS]) | "Rejects" >> beam.Flatten()
        return out, rejects
