"""Errors in the shape of the surface a request came through.

The native API answers RFC 9457 problem+json; each seed surface registers its own renderer
for its path prefix.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from smsgate.errors import SmsgateError, Unavailable

Renderer = Callable[[SmsgateError], Response]
_renderers: list[tuple[Callable[[str], bool], Renderer]] = []

_encoder = msgspec.json.Encoder()


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _encoder.encode(body), status_code=status, headers=headers, media_type="application/json"
    )


def problem(exc: SmsgateError) -> Response:
    body = {
        "type": f"https://smsgate.dev/problems/{exc.code}",
        "title": exc.code.replace("_", " "),
        "status": exc.status,
        "detail": exc.message,
        "code": exc.code,
    }
    if exc.field:
        body["field"] = exc.field
    headers = {"Retry-After": "1"} if isinstance(exc, Unavailable) else None
    return Response(
        _encoder.encode(body),
        status_code=exc.status,
        headers=headers,
        media_type="application/problem+json",
    )


def register(matches: Callable[[str], bool], renderer: Renderer) -> None:
    _renderers.append((matches, renderer))


def render_error(request: Request, exc: SmsgateError) -> Response:
    path = request.url.path
    for matches, renderer in _renderers:
        if matches(path):
            return renderer(exc)
    return problem(exc)
