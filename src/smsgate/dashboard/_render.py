"""Server-rendered pages: one Jinja2 environment per locale, and the page response.

Templates live in ``templates/`` (``base.html`` is the frame; ``app/`` the customer pages,
``admin/`` the operator's, ``auth/`` sign-in and invitations). Every template gets:
``viewer`` (or None), ``fmt`` (a ``Formatter``), ``csrf_token``, ``locale``, ``path`` and
``_``/``gettext``/``ngettext`` bound to the locale's catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smsgate.dashboard._i18n import Formatter, negotiate, translations
from smsgate.dashboard.sessions import Viewer

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
ANON_CSRF_COOKIE = "smsgate_csrf"

# Pages hold tokens, secrets and invitation links: no caching, no framing, no referrer,
# and scripts and styles only from our own /app/static.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=4)
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def viewer(request: Request) -> Viewer | None:
    found: Viewer | None = getattr(request.state, "viewer", None)
    return found


def locale_of(request: Request) -> str:
    seen = viewer(request)
    return seen.locale if seen else negotiate(request.headers.get("accept-language", ""))


def formatter(request: Request) -> Formatter:
    seen = viewer(request)
    return Formatter(locale_of(request), seen.timezone if seen else "UTC")


def gettext_for(request: Request) -> Any:
    """``gettext`` of the request's locale, for messages composed in Python."""
    return translations(locale_of(request)).gettext


def csrf_token(request: Request) -> str:
    seen = viewer(request)
    if seen is not None:
        return seen.csrf_token
    token: str = getattr(request.state, "anon_csrf", "")
    return token


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    locale = locale_of(request)
    page = environment(locale).get_template(template)
    html = page.render(
        viewer=viewer(request),
        fmt=formatter(request),
        csrf_token=csrf_token(request),
        locale=locale,
        path=request.url.path,
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    anon = getattr(request.state, "anon_csrf_new", None)
    if anon:  # first anonymous form: the double-submit cookie that goes with its hidden field
        response.set_cookie(
            ANON_CSRF_COOKIE,
            anon,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
