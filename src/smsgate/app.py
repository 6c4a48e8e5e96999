"""The ASGI application: every API surface, one process-wide runtime.

It comes in two parts because FastAPI's route table is costly to make ready: on the first
request a table serves, FastAPI analyses every route's signature (its dependencies,
parameters and body models), about half a second for smsgate's routes. ``surfaces()``
builds that table once per process and knows no settings; a ``Gateway`` is one smsgate on
its settings (its runtime, dashboard state, body limit and fast lane) and serves through
it. A server process makes one gateway. The test suite makes one per test, which now costs
a runtime instead of a route analysis each time.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Router
from starlette.types import Receive, Scope, Send

from smsgate import dashboard
from smsgate.config import Settings, get_settings
from smsgate.errors import InvalidRequest, NotFound, SmsgateError
from smsgate.runtime import Runtime
from smsgate.surfaces import callbacks, devsms, native, service, smsby, smsgic
from smsgate.surfaces.admin import router as admin_router
from smsgate.surfaces.deps import STATE_KEY
from smsgate.surfaces.fastlane import FastLane
from smsgate.surfaces.limits import BodyLimit
from smsgate.surfaces.rendering import render_error
from smsgate.surfaces.safety import CatchAll


def freeze_long_lived() -> None:
    """Move everything made so far (modules, metadata, numbering tables, caches), which lives
    as long as the process, out of the cyclic collector's sight: its full collections no
    longer walk it. Measured: p99 of single sends 90 -> 7 ms at 16 connections
    (docs/benchmarks.md). For server processes only: in a test process that builds many
    apps, cycles among frozen objects would never be collected."""
    gc.collect()
    gc.freeze()


@functools.cache
def surfaces() -> FastAPI:
    """Every route of every surface, with the error handlers that render each surface's
    error shape: one per process, shared by its gateways."""
    app = FastAPI(
        title="smsgate",
        version="0.1.0",
        description="Self-hosted SMS gateway: native API `/v1`, plus the SMSgic, devsms.uz "
        "and sms.by surfaces.",
    )
    app.add_middleware(CatchAll)  # inside Starlette's error middleware, which would answer 500
    app.include_router(service.router)
    app.include_router(native.router)
    app.include_router(callbacks.router)
    app.include_router(admin_router)
    app.include_router(devsms.router)
    app.include_router(smsgic.router)
    app.include_router(smsby.router)
    dashboard.mount(app)  # /app (customers) and /admin (operator): docs/dashboard.md
    _handle_errors(app)
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(SmsgateError)
    async def smsgate_error(request: Request, exc: SmsgateError) -> Response:
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
        )
        return render_error(request, InvalidRequest(message, field=where or None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, SmsgateError):  # FastAPI wraps errors raised reading a body
            return render_error(request, exc.__cause__)
        if exc.status_code == 404:
            return render_error(
                request, NotFound(f"there is no endpoint {request.url.path}", code="unknown_path")
            )
        error = SmsgateError(str(exc.detail), code="http_error")
        error.status = exc.status_code
        return render_error(request, error)


class Gateway:
    """One smsgate on its settings, as an ASGI app: the lifespan starts and stops its
    runtime; every request carries the gateway's ``state`` (``surfaces.deps.served``) and
    passes its body limit, then goes either to the fast lane (``surfaces.fastlane``: the hot
    single-send routes, without the framework's router and middleware) or to the
    process's route table."""

    def __init__(self, settings: Settings, *, dispatch: bool, freeze_gc: bool) -> None:
        self.runtime = Runtime(settings, dispatch=dispatch)  # its settings: runtime.settings
        self.state = State()
        self.state.runtime = self.runtime
        self.state.dashboard = dashboard.state_of(settings)
        self._freeze_gc = freeze_gc
        self._lifespan = Router(lifespan=self._running)
        hot_routes = {
            ("POST", "/v1/messages"): native.send_messages,
            ("POST", "/api/send_sms.php"): devsms.send_sms,
        }
        self._lane = FastLane(hot_routes)
        limit = settings.max_body_bytes
        self._to_lane = BodyLimit(CatchAll(self._lane), max_bytes=limit)
        self._to_routes = BodyLimit(surfaces(), max_bytes=limit)

    @asynccontextmanager
    async def _running(self, _app: Any) -> AsyncIterator[None]:
        await self.runtime.start()
        if self._freeze_gc:
            freeze_long_lived()
        try:
            yield
        finally:
            await self.runtime.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan.lifespan(scope, receive, send)
            return
        scope[STATE_KEY] = self.state
        if self._lane.serves(scope):
            await self._to_lane(scope, receive, send)
        else:
            await self._to_routes(scope, receive, send)

    # What tests and tools read of an app: the shared table's routes and OpenAPI document.
    @property
    def routes(self) -> list[BaseRoute]:
        return surfaces().routes

    def openapi(self) -> dict[str, Any]:
        return surfaces().openapi()


# How ``smsgate serve --workers N`` tells its worker processes whether to dispatch.
DISPATCH_ENV = "SMSGATE_SERVE_DISPATCH"


def served_app() -> Gateway:
    """The app of one worker process of ``smsgate serve --workers N`` (settings from the
    environment, as the parent read them)."""
    return create_app(dispatch=os.environ.get(DISPATCH_ENV, "1") != "0", freeze_gc=True)


def create_app(
    settings: Settings | None = None, *, dispatch: bool = True, freeze_gc: bool = False
) -> Gateway:
    return Gateway(settings or get_settings(), dispatch=dispatch, freeze_gc=freeze_gc)
