"""Large models: `Batching(share_across_processes=True, model_copies=N)` keeps N copies of a model
per machine, whatever the number of worker processes (Beam's multi_process_shared), and handlers
still run although the workers hold only a proxy that forwards method calls.

Run on the multi-process DirectRunner with two worker processes: the way a GPU machine runs
several SDK processes that must not each load the model.
"""

from __future__ import annotations

import os
import pathlib

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.transforms.models.base import Batching, TunescribeModelHandler

REPO = pathlib.Path(__file__).resolve().parents[3]


class Table:
    """A "model" read through attributes, as real handlers read model.tokenizer, model.device."""

    def __init__(self, factor: int):
        self.factor = factor


class MultiplyHandler(TunescribeModelHandler[int, int, Table]):
    def __init__(self, loads_dir: str, batching: Batching):
        super().__init__(None, batching)
        self.loads_dir = loads_dir

    def load_model(self) -> Table:
        # One file per load, named by the loading process and a counter, so loads can be counted.
        n = len(os.listdir(self.loads_dir))
        pathlib.Path(self.loads_dir, f"{os.getpid()}-{n}").touch()
        return Table(3)

    def run_inference(self, batch, model: Table, inference_args=None):
        return [x * model.factor for x in batch]


BRANCHES = {
    "one_copy": Batching(max_batch_size=4, share_across_processes=True, model_copies=1),
    "two_copies": Batching(max_batch_size=4, share_across_processes=True, model_copies=2),
    "per_process": Batching(max_batch_size=4),
}


@pytest.fixture(scope="module")
def loads(tmp_path_factory):
    """One pipeline, one RunInference per branch; -> branch -> the loads it made."""
    root = tmp_path_factory.mktemp("loads")
    # The worker processes unpickle MultiplyHandler by reference to this module, which pytest
    # imports as tests.transforms.models.test_base (--import-mode=importlib): from the repo root.
    env = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env] if env else []))
    try:
        options = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
        with beam.Pipeline(argv=options) as p:
            numbers = p | beam.Create(range(40)) | beam.Reshuffle()
            for name, batching in BRANCHES.items():
                (root / name).mkdir()
                out = numbers | name >> RunInference(MultiplyHandler(str(root / name), batching))
                assert_that(out, equal_to([3 * x for x in range(40)]), label=f"check_{name}")
    finally:
        if env is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env
    return {name: os.listdir(root / name) for name in BRANCHES}


def test_one_shared_copy_serves_every_worker_process(loads):
    assert len(loads["one_copy"]) == 1


def test_model_copies_sets_how_many_are_loaded(loads):
    assert len(loads["two_copies"]) == 2


def test_unshared_models_load_in_the_worker_processes(loads):
    pids = {name.split("-")[0] for name in loads["per_process"]}
    assert str(os.getpid()) not in pids and len(loads["per_process"]) == len(pids) >= 1


def test_a_handler_runs_its_model_directly_when_not_shared(tmp_path):
    assert MultiplyHandler(str(tmp_path), Batching()).run_inference([1, 2], Table(5)) == [5, 10]
