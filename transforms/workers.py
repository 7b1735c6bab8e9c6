"""A pool of worker processes that run a `StageChain` (transforms/per_item.py) on items.

Why processes: the per-item stages are CPU work in numpy, soxr, PyAV and libsndfile, with Python
between the calls, so threads in one interpreter contend for the GIL. Beam's own
`multi_processing` DirectRunner mode splits every step's input across worker processes and
exchanges elements with them over gRPC, a cost paid again at each step; with one pool around the
one step that does the heavy work, items go out and small records come back, nothing else.

The pool is per process, started (and warmed up) while a pipeline is built and closed when the
per-item step has drained, so its memory is back before the steps across items run. Each task carries the chain pickled, and a
worker sets a chain up once (its `setup()`: models, sessions) and keeps it by digest.
Workers are started with `spawn` (a fork of a process running Beam's gRPC threads can deadlock),
use one BLAS thread each (there is a worker per core already), and die with their parent.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import multiprocessing
import pickle
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor

_POOLS: dict[int, ProcessPoolExecutor] = {}
_LOCK = threading.Lock()
_CHAINS: dict[str, object] = {}  # in a worker: digest -> the chain, set up
_KEEP_CHAINS = 4  # a worker keeps the chains of this many recent pipelines set up
_IMPORTING = None  # in a worker: the pool's lock, held while a worker imports


def _start_worker(importing) -> None:
    global _IMPORTING
    _IMPORTING = importing
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        # A killed build (kill -9, the OOM killer) must not leave its workers running.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which ends the pool
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _import(modules: tuple[str, ...]) -> None:
    """Imports the stages' modules, one worker at a time: they import while the launching process
    builds the pipeline, and all of them at once would take its core (startup ~0.8 s later with
    2 workers on 2 cores, benchmarks/audio_path.py)."""
    import importlib

    with _IMPORTING:
        for name in modules:
            importlib.import_module(name)


def _run(digest: str, chain_bytes: bytes, item):
    chain = _CHAINS.get(digest)
    if chain is None:
        while len(_CHAINS) >= _KEEP_CHAINS:
            _CHAINS.pop(next(iter(_CHAINS))).teardown()
        chain = pickle.loads(chain_bytes)
        chain.setup()
        _CHAINS[digest] = chain
    return chain.run(item)


def _pool(workers: int) -> ProcessPoolExecutor:
    with _LOCK:
        if workers not in _POOLS:
            spawn = multiprocessing.get_context("spawn")
            _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=spawn, initializer=_start_worker,
                                                  initargs=(spawn.Lock(),))
        return _POOLS[workers]


def _discard(workers: int) -> None:
    with _LOCK:
        pool = _POOLS.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_all() -> None:
    for workers in list(_POOLS):
        _discard(workers)


class ChainPool:
    """Submits items to the shared pool of `workers` processes, each running the chain of `steps`."""

    def __init__(self, workers: int, steps):
        from tunescribe.transforms.per_item import StageChain

        self.workers, self.steps = workers, tuple(steps)
        self.chain_bytes = pickle.dumps(StageChain(steps))
        self.digest = hashlib.sha256(self.chain_bytes).hexdigest()

    def warm_up(self) -> None:
        """Starts the workers and has them import the stages' modules (seconds: Beam, numpy, PyAV)
        while the launching process is still building and starting the pipeline."""
        modules = tuple(sorted({type(step.dofn).__module__ for step in self.steps}))
        for _ in range(self.workers):
            _pool(self.workers).submit(_import, modules)

    def submit(self, item) -> Future:
        return _pool(self.workers).submit(_run, self.digest, self.chain_bytes, item)

    def close(self) -> None:
        """Ends the pool's processes (a later submit starts new ones)."""
        _discard(self.workers)

    def restart(self) -> None:
        """Replaces a broken pool (a worker died); the next submit starts a fresh one."""
        pool = _POOLS.get(self.workers)
        if pool is not None and getattr(pool, "_broken", False):
            _discard(self.workers)
