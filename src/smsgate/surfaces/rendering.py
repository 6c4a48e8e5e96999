"""Errors in the shape of the surface a request came through.

The native API answers RFC 9457 problem+json; each seed surface registers its own renderer
for its path prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from smsgate.errors import SmsgateError, retry_headers

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
    return Response(
        _encoder.encode(body),
        status_code=exc.status,
        headers=retry_headers(exc),
        media_type="application/problem+json",
    )


class Problem(BaseModel):
    """What ``problem()`` writes, for the OpenAPI document of ``/v1`` and ``/v1/admin``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


_PROBLEM_SCHEMA = Problem.model_json_schema()


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route or router: these statuses answer problem+json.

    Naming 422 also keeps FastAPI from documenting its own validation error body, which
    smsgate never sends.
    """
    return {
        status: {
            "description": "An error (RFC 9457 problem details)",
            "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def document_not_found(router: APIRouter) -> None:
    """Add 404 to the documented answers of every route of ``router`` with a path parameter:
    the id or name it carries may not exist, or belong to another account."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.param_convertors:
            route.responses = {**problem_responses(404), **route.responses}


def register(matches: Callable[[str], bool], renderer: Renderer) -> None:
    _renderers.append((matches, renderer))


def render_error(request: Request, exc: SmsgateError) -> Response:
    path = request.url.path
    for matches, renderer in _renderers:
        if matches(path):
            return renderer(exc)
    return problem(exc)
