"""What every dashboard route shares: the session, CSRF, the caller's role and error pages.

A router made by ``page_router()`` uses ``PageRoute``, which wraps each handler so that,
before the handler runs,

1. the session cookie is looked up (``request.state.viewer``: a ``Viewer`` or None); a
   page that needs a signed-in user sends an anonymous caller to the sign-in page (or, under
   ``/app/api/``, answers 401);
2. every request that is not GET/HEAD must carry the CSRF token: the form field
   ``csrf_token`` or the header ``X-CSRF-Token``. Signed in, the token is the session's
   (bound to it in the database); signed out (sign-in and invitation forms), it must equal
   the ``smsgate_csrf`` cookie (double submit);

and so that an ``SmsgateError`` from the core becomes an HTML error page in the viewer's
language with the error's status (JSON ``{"error": {...}}`` under ``/app/api/``), never a
500. Dependencies ``Customer``/``Operator`` then check the viewer's role; ``Customer`` also
refuses a suspended account's changes (403 ``account_suspended``), as its API tokens are.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from smsgate.config import Settings
from smsgate.dashboard import _render
from smsgate.dashboard.sessions import (
    Lifetime,
    Viewer,
    find_session,
    needs_touch,
    touch,
    viewer_of,
)
from smsgate.errors import Forbidden, InvalidRequest, SmsgateError, Unauthenticated
from smsgate.kit.time import utcnow
from smsgate.limits.service import Rule
from smsgate.surfaces.deps import runtime, served

SESSION_COOKIE = "smsgate_session"
SIGNIN_PATH = "/app/signin"
CUSTOMER_HOME = "/app"
OPERATOR_HOME = "/admin"
JSON_PREFIX = "/app/api/"
SIGNIN_WINDOW = 600.0
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class SignInRequired(Unauthenticated):
    code = "signin_required"


@dataclass(slots=True)
class DashboardState:
    """Per application: its settings, session lifetime and sign-in limits (counted in the
    database, ``runtime.limits``, for every process; an email is stored as its digest)."""

    settings: Settings
    lifetime: Lifetime
    signins_by_email: Rule
    signins_by_address: Rule

    @classmethod
    def of(cls, settings: Settings) -> DashboardState:
        return cls(
            settings,
            Lifetime.of(
                settings.dashboard_session_idle_seconds, settings.dashboard_session_max_seconds
            ),
            Rule("signin_email", settings.dashboard_signin_per_email, SIGNIN_WINDOW, hashed=True),
            Rule("signin_address", settings.dashboard_signin_per_address, SIGNIN_WINDOW),
        )


def state(request: Request) -> DashboardState:
    found: DashboardState = served(request).dashboard
    return found


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIX)


def safe_next(target: str | None, default: str = CUSTOMER_HOME) -> str:
    """A redirect target only within our own pages (no ``//host`` or ``https://``)."""
    if not target or not target.startswith(("/app", "/admin")) or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def home_of(viewer: Viewer) -> str:
    return OPERATOR_HOME if viewer.is_operator else CUSTOMER_HOME


def _load_viewer(request: Request) -> None:
    request.state.viewer = None
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return
    db, lifetime, now = runtime(request).db, state(request).lifetime, utcnow()
    with db.read() as session:
        found = find_session(session, secret, lifetime, now)
        if found is None:
            return
        request.state.viewer = viewer_of(*found)
        stale = needs_touch(found[0], lifetime, now)
    if stale:
        with db.write() as session:
            touch(session, request.state.viewer.session_id, now)


def _prepare_anonymous(request: Request) -> None:
    token = request.cookies.get(_render.ANON_CSRF_COOKIE, "")
    if len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.state.anon_csrf_new = token
    request.state.anon_csrf = token


async def _check_csrf(request: Request) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(_FORMS):
        field = (await request.form()).get("csrf_token")
        sent = field if isinstance(field, str) else None
    seen = _render.viewer(request)
    expected = seen.csrf_token if seen else request.cookies.get(_render.ANON_CSRF_COOKIE)
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        await request.close()  # a parsed form's uploaded files: no handler will close them
        raise CsrfFailed(
            "this form has expired or did not come from this site; reload the page and try again"
        )


def error_response(request: Request, exc: SmsgateError) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse({"error": body}, status_code=exc.status)
    return _render.render(request, "error.html", {"error": exc}, status=exc.status)


def _validation_error(exc: RequestValidationError) -> InvalidRequest:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "form"))
    return InvalidRequest(f"{where}: {first.get('msg', 'invalid')}", field=where or None)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """A dashboard route that needs a signed-in user."""

    public = False

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        public = self.public

        async def run(request: Request) -> Response:
            try:
                await run_in_threadpool(_load_viewer, request)
                if _render.viewer(request) is None:
                    if not public:
                        return _signin_first(request)
                    _prepare_anonymous(request)
                if request.method not in _SAFE:
                    await _check_csrf(request)
                return await handler(request)
            except SmsgateError as exc:
                return error_response(request, exc)
            except RequestValidationError as exc:
                return error_response(request, _validation_error(exc))

        return run


class PublicPageRoute(PageRoute):
    """A dashboard route open to anonymous callers (sign-in, invitations)."""

    public = True


def _signin_first(request: Request) -> Response:
    if wants_json(request):
        return error_response(request, SignInRequired("sign in first"))
    target = CUSTOMER_HOME
    if request.method in _SAFE:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = see_other(f"{SIGNIN_PATH}?next={quote(target, safe='/')}")
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def page_router(*, public: bool = False) -> APIRouter:
    """A router for dashboard pages; ``public`` for pages anonymous callers may open."""
    return APIRouter(route_class=PublicPageRoute if public else PageRoute, include_in_schema=False)


def _signed_in(request: Request) -> Viewer:
    seen = _render.viewer(request)
    if seen is None:  # only on public routes: the others redirected already
        raise SignInRequired("sign in first")
    return seen


# A suspended account's users still sign in and read, but change nothing of the account, as
# its API tokens may not (403 account_suspended). Counting and pricing change nothing; a send
# is refused by the core, which the send form shows above what was typed.
_WHILE_SUSPENDED = frozenset({"/app/api/segments", "/app/api/quote", "/app/send"})


def _customer(request: Request) -> Viewer:
    seen = _signed_in(request)
    if seen.account_id is None:
        raise Forbidden("these pages are for customers; operators use /admin", code="customer_only")
    changes = request.method not in _SAFE and request.url.path not in _WHILE_SUSPENDED
    if seen.suspended and changes:
        raise Forbidden("the account is suspended", code="account_suspended")
    return seen


def _operator(request: Request) -> Viewer:
    seen = _signed_in(request)
    if not seen.is_operator:
        raise Forbidden("these pages are for the operator", code="operator_only")
    return seen


SignedIn = Annotated[Viewer, Depends(_signed_in)]
Customer = Annotated[Viewer, Depends(_customer)]
Operator = Annotated[Viewer, Depends(_operator)]


def account_of(viewer: Viewer) -> int:
    """The viewer's account id, for a customer page (``Customer`` made sure there is one)."""
    assert viewer.account_id is not None
    return viewer.account_id


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
