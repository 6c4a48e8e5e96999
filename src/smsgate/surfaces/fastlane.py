"""The hot single-send routes served without the framework's router and middleware stack.

``POST /v1/messages`` and ``POST /api/send_sms.php`` carry most of the traffic. Profiling
under load (docs/benchmarks.md) showed FastAPI's routing, its per-route exception wrapping
and its dependency machinery costing several times the endpoint itself, although these
endpoints use none of it: they read the raw body with msgspec and authenticate from a cache.
Later profiles showed the middleware stack around the router (Starlette's error middleware,
FastAPI's telemetry and body-limit middleware, each wrapping every ``send``) costing as
much again. ``smsgate.app.Gateway`` therefore sends exactly those (method, path) pairs to
``FastLane`` before any of that, and the lane calls the same endpoint
functions the routers declare, so behaviour and the OpenAPI document stay the routers';
only the way in is shorter. Everything else goes through FastAPI untouched.

The lane is wrapped in smsgate's own ``CatchAll`` and ``BodyLimit`` (``Gateway``), so the
size limit and the last-resort error handling apply as on every other route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from smsgate.errors import SmsgateError
from smsgate.surfaces.rendering import render_error

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    def __init__(self, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.routes = dict(routes)

    def serves(self, scope: Scope) -> bool:
        return scope["type"] == "http" and (scope["method"], scope["path"]) in self.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes[(scope["method"], scope["path"])]
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except SmsgateError as exc:
            response = render_error(request, exc)
        await response(scope, receive, send)
