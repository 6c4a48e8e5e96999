"""Real uvicorn servers on loopback ports, in threads of the test process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from smsgate.app import create_app
from smsgate.config import Settings
from tests.support.postgres import free_port


class _Server(uvicorn.Server):
    """uvicorn looks at ``should_exit`` every 0.1 s; the suite starts and stops hundreds of
    servers, so this one is woken as soon as it is asked to stop (and still ticks, which keeps
    the Date header and uvicorn's own limits current)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._wake.set)


@contextmanager
def serving(app: ASGIApp, *, what: str = "the test server") -> Iterator[str]:
    """Serve any ASGI app on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = _Server(config)
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
        server.stop()
        thread.join(timeout=20)


@contextmanager
def running_server(settings: Settings, *, dispatch: bool = True) -> Iterator[str]:
    """smsgate itself, with its dispatcher unless told otherwise."""
    with serving(create_app(settings, dispatch=dispatch)) as url:
        yield url
