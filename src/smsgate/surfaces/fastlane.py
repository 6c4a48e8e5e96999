"""The hot single-send routes served without the framework's router.

``POST /v1/messages`` and ``POST /api/send_sms.php`` carry most of the traffic. Profiling
under load (docs/benchmarks.md) showed FastAPI's routing, its per-route exception wrapping
and its dependency machinery costing several times the endpoint itself, although these
endpoints use none of it: they read the raw body with msgspec and authenticate from a cache.
This pure-ASGI middleware sends exactly those (method, path) pairs straight to the same
endpoint functions the routers declare, so behaviour and the OpenAPI document stay the
routers'; only the dispatch is shorter. Everything else passes through untouched.

It sits inside ``BodyLimit`` and ``CatchAll``, so the size limit and the last-resort error
handling apply as on every other route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from smsgate.errors import SmsgateError
from smsgate.surfaces.rendering import render_error

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except SmsgateError as exc:
            response = render_error(request, exc)
        await response(scope, receive, send)
