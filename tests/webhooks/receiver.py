"""A webhook receiver on a loopback port: records every request, answers as scripted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._calls: list[Received] = []
        self._scripts: dict[str, list[int]] = {}

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, path: str, *codes: int) -> None:
        """Answer the next requests to ``path`` with these codes, then 200."""
        with self._lock:
            self._scripts[path] = list(codes)

    def calls(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [c for c in self._calls if path is None or c.path == path]

    def _take(self, call: Received) -> int:
        with self._lock:
            self._calls.append(call)
            script = self._scripts.get(call.path)
            return script.pop(0) if script else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            code = receiver._take(Received(self.path, headers, body))
            answer = b"ok" if code < 300 else b"boom"
            self.send_response(code)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the listen backlog: the default 5 resets bursts of webhooks


@contextmanager
def receiving() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(server)
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
