"""Real OpenAI-compatible servers on 127.0.0.1 for the HTTP backend's tests and benchmark.

- `transformers_serve(model_dir)`: `transformers serve` with a local model, as a subprocess.
- `FaultServer`: a small chat-completions server of our own that injects faults (429, 500,
  stalls past the client's timeout, empty and malformed replies, 400) by a plan, and otherwise
  answers from an upstream: the URL of a real server (it proxies) or a function running a real
  model in-process. It counts attempts per request and the most requests it had in flight; an
  `on_request` hook sees each request's number as it arrives (e.g. to stop the upstream after N).
  An upstream that cannot be reached is passed on as such: the connection closes with no reply.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Union

FAULTS = ("429", "500", "503", "timeout", "empty", "malformed", "no_choices", "400")
# Also: "garbage" (an HTML error page with status 200), "wrong_shape" (JSON, but not a completion),
# "drip" (a good reply sent a byte at a time, slower than the client's whole-request deadline).


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: Optional[subprocess.Popen] = None, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout_s} s")


def start_transformers_serve(model_dir: str, log_path: Optional[str] = None) -> tuple[subprocess.Popen, str]:
    """`transformers serve MODEL_DIR` on a free port, once healthy: (its process, its /v1 base URL).
    The log file (appended to) is closed with the process's end by the OS."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")
    with open(log_path or os.devnull, "ab") as log:
        proc = subprocess.Popen([cli, "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu", "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
                                env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def transformers_serve(model_dir: str, log_path: Optional[str] = None):
    """`transformers serve MODEL_DIR` on a free port; yields its /v1 base URL; stops it after."""
    proc, url = start_transformers_serve(model_dir, log_path)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def request_key(body: dict) -> str:
    """Identifies one logical request across its retries."""
    return hashlib.sha256(json.dumps([body.get("messages"), body.get("seed")], sort_keys=True).encode()).hexdigest()[:16]


Plan = Callable[[str, int], Optional[str]]  # (request key, attempt from 1) -> fault name or None


def fail_first(faults: list[str]) -> Plan:
    """Attempt n of every request gets faults[n-1]; later attempts go upstream."""
    return lambda key, attempt: faults[attempt - 1] if attempt <= len(faults) else None


def always(fault: str) -> Plan:
    return lambda key, attempt: fault


class FaultServer:
    def __init__(self, upstream: Union[str, Callable[[dict], dict], None] = None, plan: Plan = lambda k, a: None,
                 stall_s: float = 1.5, delay_s: float = 0.0, by_body: Optional[Callable[[dict, int], Optional[str]]] = None,
                 retry_after: str = "0", on_request: Optional[Callable[[int], None]] = None):
        self.upstream, self.plan, self.stall_s, self.delay_s = upstream, plan, stall_s, delay_s
        self.by_body, self.retry_after = by_body, retry_after  # by_body: (request, attempt) -> fault, over `plan`
        self.on_request = on_request  # called with n (1, 2, ...) as the n-th request arrives, before its answer
        self.times: list[tuple[str, int, float]] = []  # (request key, attempt, time.monotonic() received)
        self.attempts: dict[str, int] = {}
        self.log: list[tuple[str, int, Optional[str]]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()  # ends stalls when the server stops
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.reply(200, b'{"status":"ok"}')

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with server.lock:
                    key = request_key(body)
                    attempt = server.attempts[key] = server.attempts.get(key, 0) + 1
                    fault = server.by_body(body, attempt) if server.by_body else server.plan(key, attempt)
                    server.log.append((key, attempt, fault))
                    server.times.append((key, attempt, time.monotonic()))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    number = len(server.log)
                try:
                    if server.on_request is not None:
                        server.on_request(number)
                    self.answer(body, fault)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def answer(self, body, fault):
                if server.delay_s:
                    time.sleep(server.delay_s)
                if fault == "429":
                    return self.reply(429, b'{"error":{"message":"rate limited"}}', {"retry-after": server.retry_after})
                if fault in ("500", "503"):
                    return self.reply(int(fault), b'{"error":{"message":"server error"}}')
                if fault == "400":
                    return self.reply(400, b'{"error":{"message":"bad request"}}')
                if fault == "timeout":
                    server.closing.wait(server.stall_s)
                    return self.reply(200, json.dumps(completion("too late", body)).encode())
                if fault == "empty":
                    return self.reply(200, json.dumps(completion("", body)).encode())
                if fault == "malformed":
                    return self.reply(200, b'{"choices": [{"message": {"content": "cut off')
                if fault == "drip":  # a valid reply, one byte every 0.05 s: each read is quick, the whole is not
                    data = json.dumps(completion("a calm piano piece", body)).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    try:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return None
                if fault == "huge":  # a well-formed reply far larger than any chat answer (8 MiB)
                    return self.reply(200, json.dumps(completion("piano " * (8 * 2**20 // 6), body)).encode())
                if fault == "garbage":
                    return self.reply(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
                if fault == "wrong_shape":
                    return self.reply(200, json.dumps({"result": {"text": "a calm piano piece"}}).encode())
                if fault == "no_choices":
                    return self.reply(200, b'{"object": "chat.completion", "choices": []}')
                try:
                    answer = server.forward(body)
                except OSError:  # the upstream is down: so is this endpoint, as its clients see it
                    self.close_connection = True
                    return None
                self.reply(200, json.dumps(answer).encode())

            def reply(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def forward(self, body: dict) -> dict:
        if callable(self.upstream):
            return self.upstream(body)
        if self.upstream is None:
            return completion("a calm piano piece", body)
        req = urllib.request.Request(self.upstream.rstrip("/") + "/chat/completions", json.dumps(body).encode(),
                                     {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def faults_seen(self) -> list[Optional[str]]:
        return [fault for _, _, fault in self.log]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text: str, body: dict, prompt_tokens: int = 10) -> dict:
    return {"id": "x", "object": "chat.completion", "model": body.get("model", "m") + "-2026-01-01",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_tokens + len(text.split())}}
