"""No caller reaches what is not theirs, on any route of any surface.

Every route is enumerated from the app's router, so a route added later is swept at once:
``test_every_route_has_an_isolation_case`` fails until it has a case in
``isolation_cases.py`` (or is one of the few public ones). The sweep then sends, to every
route but the public ones:

- no token, malformed tokens, a revoked token: the surface's 401 (sms.by: 403);
- a suspended account's token, and the wrong scope (an operator's token on a customer route,
  a customer's on an operator route, with B's ids in its path): 403;
- customer A's own token against B's ids, B's sender and B's idempotency key: the surface's
  404 (or its refusal of the sender), and for A's own lists nothing of B's;

each in the surface's own error shape (docs/api/*.md), and no answer at all holds anything of
B's. The dashboard (``/app``, ``/admin``) signs in with a session cookie instead: each of its
routes is sent signed out (no session, a signed-out one, a forged one: sent to sign in, or 401
under ``/app/api/``), from a suspended account's session, in the wrong role (the operator on a
customer page, a customer on an operator page: 403), without a valid CSRF token (403), and by
A against B's ids (404) (docs/dashboard.md). Afterwards every row that is not A's, in every
table, is as it was.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, get_args
from urllib.parse import unquote, unquote_plus

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from smsgate.app import create_app
from smsgate.config import Settings
from smsgate.dashboard._render import ANON_CSRF_COOKIE
from smsgate.dashboard._routing import JSON_PREFIX, SIGNIN_PATH, PageRoute, PublicPageRoute
from smsgate.dashboard.web import SESSION_COOKIE, Customer, Operator, SignedIn
from smsgate.db import Database
from smsgate.surfaces import devsms, smsgic
from smsgate.surfaces.smsby import COMMANDS
from tests.hardening.isolation_cases import (
    DASHBOARD_CASES,
    DASHBOARD_PREFIXES,
    PUBLIC,
    SMSBY_ROUTE,
    Call,
    Case,
    all_cases,
)
from tests.hardening.isolation_dashboard import Desk, build_desk, dashboard_snapshot
from tests.hardening.isolation_world import World, build_world
from tests.support.server import running_server

Route = tuple[str, str]

# --- the surfaces' refusals ------------------------------------------------------------------


def _problem(answer: httpx.Response, status: int, code: str | None) -> None:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body = answer.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == status and body["detail"] and body["type"] and body["title"]
    assert code is None or body["code"] == code, body


def _laravel(answer: httpx.Response, status: int, code: str | None) -> None:
    body = answer.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    assert set(body) <= {"message", "errors"}, body
    if status == 401:
        assert body == {"message": "Unauthenticated."}


def _devsms(answer: httpx.Response, status: int, code: str | None) -> None:
    body = answer.json()
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]


def _smsby(answer: httpx.Response, status: int, code: str | None) -> None:
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body


@dataclass(frozen=True, slots=True)
class Surface:
    name: str
    owns: Callable[[str], bool]
    unauthenticated: int  # the status of a missing, malformed or revoked token
    shape: Callable[[httpx.Response, int, str | None], None]

    def check(self, answer: httpx.Response, status: int, code: str | None = None) -> None:
        where = f"{self.name}: {answer.request.method} {answer.request.url}"
        assert answer.status_code == status, f"{where} -> {answer.status_code} {answer.text}"
        self.shape(answer, status, code)


SURFACES = [
    Surface("admin", lambda p: p.startswith("/v1/admin"), 401, _problem),
    Surface("native", lambda p: p.startswith("/v1/"), 401, _problem),
    Surface("sms.by", lambda p: p.startswith("/api/v1/"), 403, _smsby),
    Surface("devsms.uz", devsms.owns, 401, _devsms),
    Surface("SMSgic", smsgic.owns, 401, _laravel),
]


def _dashboard(answer: httpx.Response, status: int, code: str | None) -> None:
    """The dashboard's refusals (docs/dashboard.md): sent to sign in (303), else the error
    page in HTML, or ``{"error": {"code", "message"}}`` under ``/app/api/``."""
    if status == 303:
        assert answer.headers["location"].startswith(f"{SIGNIN_PATH}?next="), answer.headers
        return
    if answer.request.url.path.startswith(JSON_PREFIX):
        body = answer.json()
        assert set(body) == {"error"} and body["error"]["message"], body
        assert code is None or body["error"]["code"] == code, body
    else:
        assert answer.headers["content-type"].startswith("text/html"), answer.headers
        assert answer.headers["cache-control"] == "no-store", answer.headers
        assert "<html" in answer.text, answer.text[:200]
        assert code is None or f"<code>{code}</code>" in answer.text, answer.text[:2000]


DASHBOARD_SURFACE = Surface(
    "dashboard", lambda p: p.startswith(DASHBOARD_PREFIXES), 303, _dashboard
)


def surface_of(path: str) -> Surface:
    found = [s for s in SURFACES if s.owns(path)]
    if path.startswith(DASHBOARD_PREFIXES):
        found.insert(0, DASHBOARD_SURFACE)
    assert found, f"no surface owns {path}"
    return found[0]


# --- the routes ------------------------------------------------------------------------------


def declared_routes() -> set[Route]:
    """(method, path) of every route; sms.by's command route as ("SMSBY", command)."""
    app = create_app(Settings(database_url="sqlite://", demo=False), dispatch=False)
    try:
        routes: set[Route] = set()
        for route in iter_route_contexts(app.routes):
            path = getattr(route, "path", "")
            for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
                if path == SMSBY_ROUTE:
                    routes |= {("SMSBY", command) for command in COMMANDS}
                else:
                    routes.add((method, path))
        return routes
    finally:
        app.state.runtime.db.dispose()


def dashboard_roles() -> dict[Route, str]:
    """Who each dashboard route is for, as the app declares it: "public" (a public page
    route), "operator", "customer" or "signed_in" (its ``Operator``/``Customer``/``SignedIn``
    dependency; a page route with none is for any signed-in user), or "unguarded" (not a
    dashboard page route at all: the sweep then fails on it)."""
    roles: dict[Route, str] = {}
    wanted = [(get_args(a)[1].dependency, n) for a, n in _ROLES]
    app = create_app(Settings(database_url="sqlite://", demo=False), dispatch=False)
    try:
        for context in iter_route_contexts(app.routes):
            route = getattr(context, "route", context)
            path = getattr(route, "path", "")
            if not path.startswith(DASHBOARD_PREFIXES) or not getattr(route, "methods", None):
                continue
            if isinstance(route, PublicPageRoute):
                role = "public"
            elif isinstance(route, PageRoute):
                calls = {d.call for d in route.dependant.dependencies}
                role = next((name for dep, name in wanted if dep in calls), "signed_in")
            else:
                role = "unguarded"
            methods: set[str] = set(getattr(route, "methods", None) or ())
            for method in methods - {"HEAD"}:
                roles[(method, path)] = role
        return roles
    finally:
        app.state.runtime.db.dispose()


_ROLES = [(Operator, "operator"), (Customer, "customer"), (SignedIn, "signed_in")]


def _dashboard_route(route: Route) -> bool:
    return route[1].startswith(DASHBOARD_PREFIXES)


def _needs_a_case(route: Route) -> bool:
    return route not in PUBLIC and not route[1].startswith("/v1/admin")


def test_every_route_has_an_isolation_case() -> None:
    declared = declared_routes()
    cases = all_cases()
    missing = sorted(r for r in declared if _needs_a_case(r) and not _dashboard_route(r))
    missing = [r for r in missing if r not in cases]
    assert not missing, f"routes without an isolation case in isolation_cases.py: {missing}"
    stale = sorted(set(cases) - declared)
    assert not stale, f"cases for routes the app no longer has: {stale}"
    assert sum(1 for r in declared if r[1].startswith("/v1/admin")) >= 30
    assert sum(1 for r in declared if r[0] == "SMSBY") == len(COMMANDS) >= 20


def test_every_dashboard_route_has_an_isolation_case() -> None:
    """Every /app and /admin route has a case in DASHBOARD_CASES, and is a dashboard page
    route (which loads the session and checks CSRF) whose role the sweep knows."""
    cases = {case.route for case in DASHBOARD_CASES}
    declared = {r for r in declared_routes() if _dashboard_route(r)}
    missing = sorted(declared - cases)
    assert not missing, f"dashboard routes without an isolation case: {missing}"
    assert not sorted(cases - declared), "cases for dashboard routes the app no longer has"
    roles = dashboard_roles()
    assert set(roles) == declared
    unguarded = sorted(r for r, role in roles.items() if role == "unguarded")
    assert not unguarded, f"dashboard routes that are not page routes: {unguarded}"
    assert {r for r, role in roles.items() if role == "operator"} == {
        r for r in declared if r[1].startswith("/admin")
    }, "every /admin route is the operator's"
    assert len(declared) >= 60


# --- the sweep -------------------------------------------------------------------------------


def _malformed(w: World) -> list[tuple[str, str | None, str | None]]:
    """(what, Authorization header, token parameter): none of them a token smsgate issued."""
    a = w.a_token
    return [
        ("no token", None, None),
        ("empty", "Bearer", ""),
        ("another scheme", f"Basic {a}", None),
        ("prefix alone", "Bearer sg_", "sg_"),
        ("A's token cut short", f"Bearer {a[:-1]}", a[:-1]),
        ("A's token and more", f"Bearer {a}x", f"{a}x"),
        ("A's token upper-cased", f"Bearer {a.upper()}", a.upper()),
        ("SQL", "Bearer ' OR '1'='1", "' OR '1'='1"),
        ("huge", "Bearer " + "a" * 4000, "a" * 4000),
        ("revoked", f"Bearer {w.revoked}", w.revoked),
    ]


@dataclass
class Sweep:
    client: httpx.Client
    world: World
    desk: Desk
    seen: int = 0
    dashboard_seen: int = 0
    dashboard_seconds: float = 0.0

    def send(self, call: Call, token: str | None) -> httpx.Response:
        """``call`` with ``token`` where the call carries one: a header or sms.by's parameter."""
        if call.token_in == "param":
            return self.raw(call, None, token)
        return self.raw(call, f"Bearer {token}" if token is not None else None, None)

    def raw(self, call: Call, authorization: str | None, param: str | None) -> httpx.Response:
        answer = call.send(self.client, authorization, param)
        self.seen += 1
        # what A sent may come back (an error naming the id A asked for); nothing else of B's
        asked = unquote(str(answer.request.url)) + answer.request.content.decode("utf-8", "replace")
        leaked = [m for m in self.world.b.markers if m in answer.text and m not in asked]
        assert not leaked, f"B's {leaked} in {call.method} {call.path}: {answer.text[:300]}"
        return answer

    def visit(self, call: Call, cookies: dict[str, str], csrf: str | None) -> httpx.Response:
        """A dashboard request: these cookies and this CSRF token (None: none)."""
        answer = call.visit(self.client, cookies, csrf)
        self.seen += 1
        self.dashboard_seen += 1
        try:
            sent = unquote_plus(answer.request.content.decode("utf-8", "replace"))
        except httpx.RequestNotRead:  # multipart, streamed
            sent = repr(call.data) + repr(call.files)
        asked = unquote(str(answer.request.url)) + sent
        leaked = [m for m in self.desk.markers if m in answer.text and m not in asked]
        assert not leaked, f"B's {leaked} in {call.method} {call.path}: {answer.text[:300]}"
        return answer

    def refusals(self, surface: Surface, call: Call, *, operator_route: bool) -> None:
        w = self.world
        for what, header, param in _malformed(w):
            if call.token_in == "param":
                if param is None and what != "no token":
                    continue  # a header-only variant
                answer = self.raw(call, None, param)
            else:
                answer = self.raw(call, header, None)
            surface.check(answer, surface.unauthenticated, "unauthenticated")
        surface.check(self.send(call, w.suspended), 403, "account_suspended")
        if operator_route:
            surface.check(self.send(call, w.a_token), 403, "operator_only")
        else:
            surface.check(self.send(call, w.operator), 403, "customer_only")

    def as_a(self, surface: Surface, call: Call) -> None:
        answer = self.send(call, self.world.a_token)
        if call.expect >= 400:
            surface.check(answer, call.expect)
        else:
            assert answer.status_code == call.expect, (call.path, answer.text)


def _admin_call(w: World, method: str, template: str) -> Call:
    """An operator route with B's ids in its path (no body: the scope is checked first)."""
    ids: dict[str, Any] = {
        "account_id": w.b.account_id,
        "token_id": w.b.token_id,
        "invoice_id": w.b.invoice_id,
        "sender_id": w.b.sender_id,
        "name": "standard",
        "connector": "simulator",
    }
    path = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), template)
    return Call(method, path, 403)


# --- the dashboard's sweep ------------------------------------------------------------------


def _signed_out_variants(desk: Desk) -> list[tuple[str, str | None]]:
    """(what, session cookie): none of them a live session."""
    a = desk.a.cookie
    return [
        ("no session", None),
        ("signed out", desk.a_signed_out.cookie),
        ("A's cookie altered", a[:-1] + ("x" if a[-1] != "x" else "y")),
        ("huge", "a" * 4000),
    ]


def _suspended_gets(role: str, call: Call) -> tuple[int, str | None] | None:
    """What a suspended account's session gets for ``call`` (None: not tried). Its users
    still sign in and read (docs/dashboard.md); every change to the account is refused, as its
    API tokens are; its users' own sign-out and settings are theirs."""
    if call.suspended is not None:
        return call.suspended, None
    if role == "operator":
        return 403, "operator_only"
    reads = call.method == "GET"
    if role == "customer":
        return (call.expect, None) if reads else (403, "account_suspended")
    if role == "signed_in" and (reads or call.expect >= 400):
        return call.expect, None
    return None


def _sweep_dashboard_route(sweep: Sweep, role: str, case: Case[Desk]) -> None:
    desk, surface = sweep.desk, DASHBOARD_SURFACE
    calls = case.calls(desk)
    first = calls[0]
    writes = first.method != "GET"
    assert role != "unguarded", f"{case.route} is not a dashboard page route"

    if role != "public":
        for what, cookie in _signed_out_variants(desk):
            cookies = {SESSION_COOKIE: cookie} if cookie else {}
            answer = sweep.visit(first, cookies, desk.a.csrf if writes else None)
            if first.path.startswith(JSON_PREFIX):
                surface.check(answer, 401, "signin_required")
                continue
            surface.check(answer, 303)
            target = unquote(answer.headers["location"].partition("?next=")[2])
            url = answer.request.url
            assert target == ("/app" if writes else url.raw_path.decode()), (what, target)
            if cookie:  # and the stale cookie is dropped
                dropped = answer.headers.get("set-cookie", "")
                assert dropped.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in dropped, what

    if role == "customer":
        refused = sweep.visit(
            first, {SESSION_COOKIE: desk.operator.cookie}, desk.operator.csrf if writes else None
        )
        surface.check(refused, 403, "customer_only")

    suspended = _suspended_gets(role, first)
    if suspended is not None:
        status, code = suspended
        cookies = {SESSION_COOKIE: desk.suspended.cookie}
        answer = sweep.visit(first, cookies, desk.suspended.csrf if writes else None)
        if status >= 400:
            surface.check(answer, status, code)
            if status == 403 and role == "customer":
                assert "the account is suspended" in answer.text, answer.text[:2000]
        else:
            assert answer.status_code == status, (first.path, answer.text[:300])
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert "This account is suspended" in answer.text, first.path  # seen as such

    if writes:  # no CSRF token, or another session's
        if role == "public":
            tries: list[tuple[dict[str, str], str | None]] = [
                ({}, None),
                ({}, "t" * 43),  # a token and no cookie to match
                ({ANON_CSRF_COOKIE: "c" * 43}, "t" * 43),
                ({SESSION_COOKIE: desk.a.cookie}, None),
                ({SESSION_COOKIE: desk.a.cookie}, desk.b.csrf),
            ]
        else:
            seat = desk.operator if role == "operator" else (first.seat or desk.a)
            other = desk.a.csrf if role == "operator" else desk.b.csrf
            tries = [({SESSION_COOKIE: seat.cookie}, None), ({SESSION_COOKIE: seat.cookie}, other)]
        for cookies, token in tries:
            surface.check(sweep.visit(first, cookies, token), 403, "csrf_failed")

    for call in calls:  # A's own session, and A's CSRF token
        seat = call.seat or desk.a
        token = seat.csrf if call.method != "GET" and call.csrf else None
        answer = sweep.visit(call, {SESSION_COOKIE: seat.cookie}, token)
        if call.expect >= 400:
            surface.check(answer, call.expect, "operator_only" if role == "operator" else None)
        else:
            assert answer.status_code == call.expect, (call.path, answer.text[:300])


def _run(sweep: Sweep, routes: set[Route]) -> None:
    cases = all_cases()
    roles = dashboard_roles()
    for method, path in sorted(routes):
        if (method, path) in PUBLIC:
            if method == "GET":
                assert sweep.send(Call("GET", path, 200), None).status_code == 200
            continue
        if path.startswith("/v1/admin"):
            call = _admin_call(sweep.world, method, path)
            sweep.refusals(surface_of(call.path), call, operator_route=True)
            continue
        assert (method, path) in cases, (method, path)
        if _dashboard_route((method, path)):
            started = time.monotonic()
            _sweep_dashboard_route(sweep, roles[(method, path)], cases[(method, path)])
            sweep.dashboard_seconds += time.monotonic() - started
            continue
        calls = cases[(method, path)].calls(sweep.world)
        surface = surface_of(calls[0].path)
        sweep.refusals(surface, calls[0], operator_route=False)
        for call in calls:
            sweep.as_a(surface, call)


@pytest.fixture
def world(db: Database, settings: Settings, plan: str) -> World:
    return build_world(db, settings)


@pytest.fixture
def sweeping(settings: Settings) -> Iterator[str]:
    # Hundreds of wrong tokens from one address: the failed-authentication limit
    # (test_auth_limits.py) would answer 429 long before the sweep ends.
    many = settings.model_copy(
        update={"auth_failures_per_address": 10**9, "auth_failures_per_token": 10**9}
    )
    with running_server(many, dispatch=False) as url:  # nothing moves but what A does
        yield url


@pytest.fixture
def desk(db: Database, settings: Settings, world: World) -> Desk:
    return build_desk(db, settings, world)


# Cookies travel only as each request sets them: a browser's jar would mix the seats.
_NO_JAR = CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def test_sweep(db: Database, world: World, desk: Desk, sweeping: str) -> None:
    before = dashboard_snapshot(db, desk)
    with httpx.Client(base_url=sweeping, timeout=30, cookies=_NO_JAR) as client:
        sweep = Sweep(client, world, desk)
        _run(sweep, declared_routes())
    dashboard = f"{sweep.dashboard_seen} to the dashboard in {sweep.dashboard_seconds:.1f} s"
    print(f"isolation sweep: {sweep.seen} requests, {dashboard}")
    assert sweep.seen > 1000 and sweep.dashboard_seen > 400
    after = dashboard_snapshot(db, desk)
    for table, rows in before.items():
        assert after[table] == rows, f"{table} changed by A's requests"
    assert set(after) == set(before)
