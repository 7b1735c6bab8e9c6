"""The Dataflow job a build submits, made offline with `--dry_run=True` and checked step by step.

DataflowRunner does everything but the submission: Dataflow's graph overrides, the Runner v2
portable proto, environments (one per set of resource hints), packaging. The config reads and
writes gs:// only and has three captioners: a local LM on `cuda` (must get the GPU), an HTTP
endpoint and an audio model pinned to the CPU (must not).
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import zipfile

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2

pytest.importorskip("google.cloud.dataflow", reason="DataflowRunner needs the test extra's google-cloud packages")
pytest.importorskip("build", reason="--setup_file packaging needs the test extra's `build`")

from tunescribe.pipelines.build import build_pipeline  # noqa: E402
from tunescribe.pipelines.commands.build import run_build  # noqa: E402
from tunescribe.pipelines.config import BuildConfig, ConfigError, load_config  # noqa: E402
from tunescribe.pipelines.runners import check_paths_for_runner  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
BUCKET = "gs://tunescribe-placeholder"
IMAGE = "us-docker.pkg.dev/placeholder-project/tunescribe/worker:test"
ACCELERATOR = "type:nvidia-l4;count:1;install-nvidia-driver"
ACCELERATOR_URN = common_urns.resource_hints.ACCELERATOR.urn
MIN_RAM_URN = common_urns.resource_hints.MIN_RAM_BYTES.urn
# Steps of the build that every corpus has (models aside), as named in pipelines/build.py.
CORE_STEPS = ["AudioPath", "WriteWebDataset", "WriteClipTable", "WriteRejectTable", "WriteRunStats",
              "WriteCandidates", "PruneAudioStore"]

CONFIG = {
    "name": "msd",
    "output": f"{BUCKET}/corpus",
    "inputs": [
        {"type": "manifest", "path": f"{BUCKET}/in/manifest.csv", "columns": {"path": "path", "tags": "tags"}},
        {"type": "folder", "path": f"{BUCKET}/in/audio"},
    ],
    "captions": {"models": [
        {"backend": "transformers", "name": "lm", "model": "Qwen/Qwen2.5-1.5B-Instruct", "device": "cuda"},
        {"backend": "openai", "name": "api", "base_url": "http://llm.internal:8000/v1", "model": "served-model"},
        {"backend": "transformers-audio", "name": "cpu-audio", "model": "org/audio-captioner", "device": "cpu"},
    ]},
    "tagging": {"model": "org/music-tagger", "device": "cuda"},
    "clap": {"model": "laion/clap-htsat-unfused", "device": "auto"},
    "resources": {"accelerator": ACCELERATOR, "min_ram": "16GB"},
}


def dataflow_args(*extra: str) -> list[str]:
    return ["--runner=DataflowRunner", "--dry_run=True", "--project=placeholder-project",
            "--region=us-central1", f"--temp_location={BUCKET}/tmp", *extra]


def dry_run(cfg: BuildConfig, args: list[str]):
    """-> (the job DataflowRunner would submit, the labels of the build's top-level steps)."""
    p = beam.Pipeline(options=PipelineOptions(args))
    build_pipeline(p, cfg)
    steps = [part.full_label for part in p.transforms_stack[0].parts]
    result = p.run()
    return result.job, steps


@pytest.fixture(scope="module")
def job():
    # Both ways of getting tunescribe onto the workers at once, to make the graph once: the
    # project's container image, and the sdist Beam builds from --setup_file.
    return dry_run(BuildConfig.model_validate(CONFIG),
                   dataflow_args(f"--sdk_container_image={IMAGE}", "--sdk_location=container",
                                 f"--setup_file={REPO / 'pyproject.toml'}"))


def leaves(proto: beam_runner_api_pb2.Pipeline):
    return {tid: t for tid, t in proto.components.transforms.items() if not t.subtransforms}


def hints_of(proto, transform) -> dict:
    if not transform.environment_id:
        return {}
    return dict(proto.components.environments[transform.environment_id].resource_hints)


def test_every_step_of_the_build_is_in_the_job(job):
    job, steps = job
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    assert set(steps) <= names
    assert set(CORE_STEPS) <= set(steps)
    assert {"ModelCaptions0_lm", "ModelCaptions1_api", "ModelCaptions2_cpu-audio"} <= set(steps)


# The RunInference steps of the models configured on cuda/auto: the LM captioner, the tagger, CLAP.
GPU_MODEL_STEPS = ("ModelCaptions0_lm/Model/RunInference/", "AudioTags/Model/RunInference/", "AudioTextScores/Clap/")


def test_gpu_hints_are_on_the_gpu_model_steps_only(job):
    proto = job[0].proto_pipeline
    hinted = {t.unique_name: hints_of(proto, t) for t in leaves(proto).values() if ACCELERATOR_URN in hints_of(proto, t)}
    # The inference step of each model on a GPU (where RunInference puts its handler's hints), and nothing else.
    assert all(name.startswith(GPU_MODEL_STEPS) and "/BeamML_RunInference" in name for name in hinted), sorted(hinted)
    for prefix in GPU_MODEL_STEPS:
        assert any(name.startswith(prefix) for name in hinted), prefix
    for hints in hinted.values():
        assert hints[ACCELERATOR_URN] == ACCELERATOR.encode()
        assert hints[MIN_RAM_URN] == str(16 * 10**9).encode()
    # The HTTP endpoint and the CPU model run on ordinary workers, as does the audio path.
    for t in leaves(proto).values():
        if t.unique_name.startswith(("ModelCaptions1_api/", "ModelCaptions2_cpu-audio/", "DecodeAudio/")):
            assert not hints_of(proto, t), t.unique_name


def test_workers_run_the_tunescribe_container(job):
    proto = job[0].proto_pipeline
    images = set()
    for env in proto.components.environments.values():
        assert env.urn == common_urns.environments.DOCKER.urn
        images.add(beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image)
    assert images == {IMAGE}


def test_no_big_data_in_the_graph(job):
    """Inputs are read by the workers, not shipped in the job: no Create of more than a few
    values, no step carrying more than a pickled DoFn's worth of bytes."""
    proto = job[0].proto_pipeline
    for t in proto.components.transforms.values():
        assert len(t.spec.payload) < 256 * 1024, (t.unique_name, len(t.spec.payload))
        if "/Create/" in t.unique_name or t.unique_name.endswith("Create"):
            assert len(t.spec.payload) < 16 * 1024, t.unique_name


def side_inputs(proto) -> list[tuple[str, str]]:
    """(consuming step, producing step) for every side input in the job."""
    producers = {out: t.unique_name for t in proto.components.transforms.values()
                 for out in t.outputs.values() if not t.subtransforms}
    found = []
    for t in proto.components.transforms.values():
        if t.spec.urn != common_urns.primitives.PAR_DO.urn:
            continue
        payload = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
        for tag in payload.side_inputs:
            found.append((t.unique_name, producers[t.inputs[tag]]))
    return found


# Every side input a build broadcasts besides Beam's own O(1) ones (CombineGlobally's default
# value), and why its size is bounded. A new one must be added here with its bound: a side input
# is copied whole to every worker that reads it.
BOUNDED_SIDE_INPUTS = {
    "WriteWebDataset/ToShard": "the shard plan, key -> (split, shard) per accepted clip: 33 bytes a clip "
                               "pickled (measured on 100k keys), 17 MB at 500k clips",
    "CompactLedger/": "commit ledger file names: one per commit file",
    "AssignSplit/": "groups forced into the test split: one per evaluation-set group",
    "WriteCandidates/": "how many key digits name a part (one int), and the part files written: one per part",
    "WriteRunTotals/": "the counts of items to do and of unique items: two ints",
    "CheckErrorRatios/": "failures per stage and rejects per (stage, reason): one row per stage or reason code "
                         "(a few dozen), and the path of stats.json",
}


def test_side_inputs_are_few_and_bounded(job):
    found = side_inputs(job[0].proto_pipeline)
    assert any(c.startswith("WriteWebDataset/") for c, _ in found), "no shard plan side input: this test is blind"
    for consumer, producer in found:
        if consumer.endswith("/InjectDefault") or re.search(r"/WaitOn\d+/GroupByKey$", producer):
            continue  # WaitOn's side inputs are empty: it waits for its inputs, it reads none of them
        assert any(consumer.startswith(prefix) for prefix in BOUNDED_SIDE_INPUTS), (
            f"side input of {consumer} (from {producer}) is not in BOUNDED_SIDE_INPUTS: add it with the bound "
            "of its size, or feed it as a main input")


def test_packaged_with_setup_file_the_workers_get_every_file(job, tmp_path):
    """`--setup_file pyproject.toml`: Beam builds the project's sdist and stages it; each worker
    pip-installs it. The wheel pip makes of it must hold every module and data file."""
    staged = {}
    for env in job[0].proto_pipeline.components.environments.values():
        for dep in env.dependencies:
            name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload).staged_name
            staged[name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(dep.type_payload).path
    assert "workflow.tar.gz" in staged
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "--wheel-dir", str(tmp_path), staged["workflow.tar.gz"]], check=True, timeout=300)
    (wheel,) = tmp_path.glob("tunescribe-*.whl")
    installed = set(zipfile.ZipFile(wheel).namelist())
    roots = {"pipelines": "tunescribe/pipelines", "transforms": "tunescribe/transforms", "schemas": "tunescribe/schemas"}
    files = {roots[p.relative_to(REPO).parts[0]] + "/" + "/".join(p.relative_to(REPO).parts[1:])
             for root in roots for p in (REPO / root).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert files <= installed, sorted(files - installed)


def test_local_paths_are_refused_for_dataflow_before_any_work(tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    cfg = BuildConfig.model_validate({**CONFIG, "output": str(tmp_path / "corpus"),
                                      "inputs": [{"type": "folder", "path": f"{BUCKET}/in/audio"},
                                                 {"type": "manifest", "path": f"{BUCKET}/m.csv",
                                                  "audio_root": "/data/audio"}],
                                      "youtube": {"cookies": str(cookies)}})
    with pytest.raises(ConfigError) as err:
        run_build(cfg, dataflow_args())
    message = str(err.value)
    assert "DataflowRunner workers cannot reach local paths" in message
    assert f"output: {tmp_path / 'corpus'}" in message
    assert "inputs[1].audio_root: /data/audio" in message
    assert f"youtube.cookies: {cookies}" in message
    assert "inputs[0]" not in message
    assert not (tmp_path / "corpus").exists()


def test_the_dataflow_example_config_is_ready_for_dataflow():
    cfg = load_config(str(REPO / "examples" / "dataflow" / "config.yaml"))
    check_paths_for_runner(cfg, PipelineOptions(dataflow_args()))
    assert cfg.resources.accelerator and all(m.device == "cuda" for m in cfg.captions.models)
