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
B's. Afterwards every row that is not A's, in every table, is as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from smsgate.app import create_app
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.surfaces import devsms, smsgic
from smsgate.surfaces.smsby import COMMANDS
from tests.hardening.isolation_cases import (
    DASHBOARD_CASES,
    DASHBOARD_PREFIXES,
    PUBLIC,
    SMSBY_ROUTE,
    Call,
    all_cases,
)
from tests.hardening.isolation_world import World, build_world, snapshot
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
# The dashboard's refusals (a sign-in page or redirect, not a token error): its helper sets
# this and fills isolation_cases.DASHBOARD_CASES; until then its routes have no cases.
DASHBOARD_SURFACE: Surface | None = None


def surface_of(path: str) -> Surface:
    found = [s for s in SURFACES if s.owns(path)]
    if DASHBOARD_SURFACE is not None and path.startswith(DASHBOARD_PREFIXES):
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


def _dashboard(route: Route) -> bool:
    return route[1].startswith(DASHBOARD_PREFIXES)


def _needs_a_case(route: Route) -> bool:
    return route not in PUBLIC and not route[1].startswith("/v1/admin")


def test_every_route_has_an_isolation_case() -> None:
    declared = declared_routes()
    cases = all_cases()
    missing = sorted(r for r in declared if _needs_a_case(r) and not _dashboard(r))
    missing = [r for r in missing if r not in cases]
    assert not missing, f"routes without an isolation case in isolation_cases.py: {missing}"
    stale = sorted(set(cases) - declared)
    assert not stale, f"cases for routes the app no longer has: {stale}"
    assert sum(1 for r in declared if r[1].startswith("/v1/admin")) >= 30
    assert sum(1 for r in declared if r[0] == "SMSBY") == len(COMMANDS) >= 20


def test_every_dashboard_route_has_an_isolation_case() -> None:
    """The hook for the dashboard (built beside this suite): once it has one case, every one
    of its routes needs one, as every other route does."""
    cases = all_cases()
    missing = sorted(r for r in declared_routes() if _dashboard(r) and r not in cases)
    if not DASHBOARD_CASES and missing:
        pytest.xfail(f"isolation_cases.DASHBOARD_CASES is empty: {len(missing)} routes wait")
    assert not missing, f"dashboard routes without an isolation case: {missing}"


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
    seen: int = 0

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


def _run(sweep: Sweep, routes: set[Route]) -> None:
    cases = all_cases()
    for method, path in sorted(routes):
        if (method, path) in PUBLIC:
            if method == "GET":
                assert sweep.send(Call("GET", path, 200), None).status_code == 200
            continue
        if path.startswith("/v1/admin"):
            call = _admin_call(sweep.world, method, path)
            sweep.refusals(surface_of(call.path), call, operator_route=True)
            continue
        if (method, path) not in cases:
            assert _dashboard((method, path)), (method, path)  # waits for DASHBOARD_CASES
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


def test_sweep(db: Database, world: World, sweeping: str) -> None:
    before = snapshot(db, world.a.account_id)
    with httpx.Client(base_url=sweeping, timeout=30) as client:
        sweep = Sweep(client, world)
        _run(sweep, declared_routes())
    assert sweep.seen > 1000
    after = snapshot(db, world.a.account_id)
    for table, rows in before.items():
        assert after[table] == rows, f"{table} changed by A's requests"
    assert set(after) == set(before)
