"""Errors raised outside a dashboard route (unknown path, body too large, internal error),
rendered for dashboard paths: a plain page, or JSON under ``/app/api/``."""

from __future__ import annotations

from starlette.responses import HTMLResponse, JSONResponse, Response

from smsgate.dashboard._i18n import Formatter
from smsgate.dashboard._render import SECURITY_HEADERS, environment
from smsgate.dashboard._routing import JSON_PREFIX
from smsgate.errors import SmsgateError
from smsgate.surfaces.rendering import register


def _json(exc: SmsgateError) -> Response:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status)


def _html(exc: SmsgateError) -> Response:
    # No request here, so no viewer and no language: the page is in English.
    page = environment("en").get_template("error.html")
    html = page.render(
        viewer=None, fmt=Formatter("en", "UTC"), csrf_token="", locale="en", path="", error=exc
    )
    return HTMLResponse(html, status_code=exc.status, headers=SECURITY_HEADERS)


def _dashboard_path(path: str) -> bool:
    return path in ("/app", "/admin") or path.startswith(("/app/", "/admin/"))


_registered = False


def register_renderers() -> None:
    """Once per process, however many apps are made (the registry is process-wide)."""
    global _registered
    if not _registered:
        register(lambda path: path.startswith(JSON_PREFIX), _json)
        register(_dashboard_path, _html)
        _registered = True
