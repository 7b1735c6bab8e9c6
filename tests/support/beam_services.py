"""Beam's own portable services as separate processes on 127.0.0.1, for tests and benchmarks.

`portable_services()` starts the job service (`local_job_service_main`, what Flink's and Spark's
job servers are to their clusters) and an external worker pool (`worker_pool_main`, which starts
each SDK harness as its own process), and always stops both, with every worker they started.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: pathlib.Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"service not listening on {port} after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _start(args: list[str], log: pathlib.Path) -> subprocess.Popen:
    # The pool starts each worker as `python -c ...`: that must be this interpreter.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with open(log, "wb") as out:
        # A session of its own, so stopping it stops the workers it started too.
        return subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError):  # workers the pool left behind
        os.killpg(proc.pid, signal.SIGKILL)


class PortableServices:
    def __init__(self, job_port: int, pool_port: int, logs: pathlib.Path):
        self.job_port, self.pool_port, self.logs = job_port, pool_port, logs

    @property
    def job_endpoint(self) -> str:
        return f"127.0.0.1:{self.job_port}"

    @property
    def worker_pool(self) -> str:
        return f"127.0.0.1:{self.pool_port}"

    def pipeline_args(self) -> list[str]:
        """Beam options that run a pipeline on these services, workers from the pool."""
        return ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}",
                "--environment_type=EXTERNAL", f"--environment_config={self.worker_pool}"]

    def job_log(self) -> str:
        return (self.logs / "job_service.log").read_text(errors="replace")

    def pool_log(self) -> str:
        return (self.logs / "worker_pool.log").read_text(errors="replace")


@contextlib.contextmanager
def portable_services(logs: pathlib.Path):
    """Job service + worker pool on 127.0.0.1; yields PortableServices; logs go under `logs`."""
    logs.mkdir(parents=True, exist_ok=True)
    job_port, pool_port = free_port(), free_port()
    procs = []
    try:
        procs.append(_start(["apache_beam.runners.portability.local_job_service_main", "--port", str(job_port),
                             "--staging_dir", str(logs / "staging")], logs / "job_service.log"))
        procs.append(_start(["apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port)],
                            logs / "worker_pool.log"))
        _wait_for_port(job_port, procs[0], logs / "job_service.log")
        _wait_for_port(pool_port, procs[1], logs / "worker_pool.log")
        yield PortableServices(job_port, pool_port, logs)
    finally:
        for proc in reversed(procs):
            _stop(proc)
