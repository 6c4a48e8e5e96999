"""Real uvicorn servers on loopback ports, in threads of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from smsgate.app import create_app
from smsgate.config import Settings
from tests.support.postgres import free_port


@contextmanager
def serving(app: ASGIApp, *, what: str = "the test server") -> Iterator[str]:
    """Serve any ASGI app on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def running_server(settings: Settings, *, dispatch: bool = True) -> Iterator[str]:
    """smsgate itself, with its dispatcher unless told otherwise."""
    with serving(create_app(settings, dispatch=dispatch)) as url:
        yield url
