"""A real HTTP server on 127.0.0.1 for the fetch tests, started and stopped by the `media_server` fixture.

Routes (NAME is a file in the server's folder):
  /audio/NAME              the file, with Range support, Content-Type from its extension
  /page/NAME.html          an HTML page with <audio src="/audio/NAME"> (yt-dlp's generic extractor)
  /watch?v=ID              a YouTube-style watch page: <audio src="/audio/ID.ogg">; 403 for ids private*
  /status/CODE/...         an empty answer with that HTTP status
  /stall/NAME              headers and the first 1 KiB of the file, then silence (until shutdown)
  /text/NAME               plain text served as audio/ogg (a lying non-audio body)
  /flaky/N/NAME            503 for the first N requests of that path, then the file
  /slow/NAME               the file after a 0.3 s pause (for concurrency limits)
  /drip/NAME               the file 64 bytes at a time, one piece every 0.1 s (a slow-drip server)
  /loop/N                  a redirect to /loop/N+1, for ever (a redirect loop)
  /short/NAME              Content-Length 64 KiB more than the file, which is sent whole, then the
                           connection closes (a lying Content-Length: the body ends early)
  /chunked/NAME            the file chunked, with no Content-Length (a size cap cannot trust a header)
  /manifest/NAME           any file of the folder (manifests)
Every request is logged in `server.hits` (method, path); `server.max_in_flight` counts the most
requests answered at the same time.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import mimetypes
import pathlib
import shutil
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "MediaServer"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._route(head=True)

    def do_GET(self):
        self._route(head=False)

    def _send(self, status: int, body: bytes, content_type: str, head: bool, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _file(self, name: str, head: bool):
        path = self.server.root / name
        if not path.is_file():
            return self._send(404, b"", "text/plain", head)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        rng = self.headers.get("Range")
        if not rng:  # streamed from disk: a big file never sits in the server's memory
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not head:
                with path.open("rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 16)
            return None
        data = path.read_bytes()
        if rng.startswith("bytes="):
            lo, _, hi = rng[6:].partition("-")
            lo, hi = int(lo or 0), min(int(hi) if hi else len(data) - 1, len(data) - 1)
            return self._send(206, data[lo:hi + 1], ctype, head,
                              [("Content-Range", f"bytes {lo}-{hi}/{len(data)}"), ("Accept-Ranges", "bytes")])
        return self._send(200, data, ctype, head, [("Accept-Ranges", "bytes")])

    def _route(self, head: bool):
        srv = self.server
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        with srv.lock:
            srv.hits.append(("HEAD" if head else "GET", self.path))
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            kind, rest = parts[0], "/".join(parts[1:])
            if kind in ("audio", "manifest"):
                return self._file(rest, head)
            if kind == "page":
                media = html.escape(rest[:-len(".html")])
                body = (f"<html><head><title>{media}</title></head><body><h1>Listen</h1>"
                        f'<audio controls src="/audio/{media}"></audio></body></html>').encode()
                return self._send(200, body, "text/html; charset=utf-8", head)
            if kind == "watch":
                vid = html.escape(parse_qs(url.query).get("v", [""])[0])
                if vid.startswith("private"):  # what a site answers for a private video, without a login
                    return self._send(403, b"<html><body>Private video. Sign in if you've been granted access "
                                      b"to this video</body></html>", "text/html; charset=utf-8", head)
                body = (f"<html><head><title>video {vid}</title></head><body>"
                        f'<audio controls><source src="/audio/{vid}.ogg" type="audio/ogg"></audio></body></html>').encode()
                return self._send(200, body, "text/html; charset=utf-8", head)
            if kind == "status":
                return self._send(int(parts[1]), b"", "text/plain", head)
            if kind == "text":
                return self._send(200, b"this is not audio, just words\n" * 20, "audio/ogg", head)
            if kind == "flaky":
                with srv.lock:
                    srv.flaky[self.path] = srv.flaky.get(self.path, 0) + (0 if head else 1)
                    failing = srv.flaky[self.path] <= int(parts[1])
                if failing or head:
                    return self._send(503, b"", "text/plain", head)
                return self._file("/".join(parts[2:]), head)
            if kind == "slow":
                time.sleep(0.3)
                return self._file(rest, head)
            if kind == "drip":
                data = (srv.root / rest).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for i in range(0, 0 if head else len(data), 64):
                    if srv.stop.wait(0.1):
                        break
                    self.wfile.write(data[i:i + 64])
                    self.wfile.flush()
                return None
            if kind == "loop":
                return self._send(302, b"", "text/plain", head, [("Location", f"/loop/{int(parts[1]) + 1}")])
            if kind == "short":
                data = (srv.root / rest).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(data) + 65536))
                self.send_header("Connection", "close")
                self.end_headers()
                if not head:
                    self.wfile.write(data)
                self.close_connection = True
                return None
            if kind == "chunked":
                data = (srv.root / rest).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if not head:
                    for i in range(0, len(data), 1 << 16):
                        piece = data[i:i + (1 << 16)]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                return None
            if kind == "stall":
                data = (srv.root / rest).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "audio/ogg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data[:1024])
                    self.wfile.flush()
                    srv.stop.wait(30)  # bounded: the fixture sets `stop` on teardown
                return None
            return self._send(404, b"", "text/plain", head)
        finally:
            with srv.lock:
                srv.in_flight -= 1


class MediaServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: pathlib.Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.hits: list[tuple[str, str]] = []
        self.flaky: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.in_flight = self.max_in_flight = 0

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a client that gave up: expected
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def gets(self, prefix: str) -> int:
        return sum(1 for method, path in self.hits if method == "GET" and path.startswith(prefix))


@contextlib.contextmanager
def serving(root: pathlib.Path):
    """A running MediaServer for files under `root`; stopped (stalled answers released) on exit."""
    root.mkdir(parents=True, exist_ok=True)
    server = MediaServer(root)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def media_server(tmp_path):
    """A MediaServer serving files from a fresh folder (`server.root`); stopped after the test."""
    with serving(tmp_path / "served") as server:
        yield server
