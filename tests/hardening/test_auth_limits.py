"""Failed authentications are limited per client address and per token (429 with Retry-After),
on every surface, in that surface's shape; valid tokens keep their cached fast path. The
counts are in the database: processes on one database share them (two Authenticators here
on both engines, two real ``smsgate serve --no-dispatch`` processes on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from smsgate.accounts import admin
from smsgate.accounts.auth import Authenticator, FailureLimits
from smsgate.accounts.models import ApiToken
from smsgate.accounts.service import hash_token
from smsgate.config import Settings
from smsgate.dashboard.users import create_user
from smsgate.db import Database
from smsgate.errors import Forbidden, TooManyRequests, Unauthenticated
from smsgate.limits.models import LimitWindow
from tests.dashboard.conftest import PASSWORD, User, http_sign_in
from tests.scale.cluster import Cluster
from tests.support.factories import Customer, make_customer
from tests.support.server import running_server
from tests.surfaces.test_admin_support import make_operator

WRONG = "sg_" + "x" * 43


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _auth(db: Database, clock: Clock, per_address: int = 3, per_token: int = 2) -> Authenticator:
    return Authenticator(db, limits=FailureLimits(per_address, per_token, 60.0), clock=clock)


def _refused(auth: Authenticator, token: str | None, address: str) -> type[Exception]:
    with pytest.raises((Unauthenticated, Forbidden, TooManyRequests)) as caught:
        auth.principal(token, address)
    return caught.type


def test_an_address_is_blocked_after_its_failures_then_free_again(db: Database, plan: str) -> None:
    c = make_customer(db)
    clock = Clock()
    auth = _auth(db, clock)
    for n in range(3):
        assert _refused(auth, f"{WRONG}{n}", "192.0.2.1") is Unauthenticated
    with pytest.raises(TooManyRequests) as blocked:
        auth.principal(c.token, "192.0.2.1")  # a right guess must look like a wrong one
    assert blocked.value.status == 429 and 1 <= blocked.value.retry_after <= 60
    assert blocked.value.code == "too_many_failed_authentications"
    assert _refused(auth, None, "192.0.2.1") is TooManyRequests
    # other addresses are not touched, nor is the valid token itself
    assert auth.principal(c.token, "192.0.2.2").account_id == c.account_id
    clock.now += 59
    assert _refused(auth, c.token, "192.0.2.1") is TooManyRequests
    clock.now += 1  # the window that opened with the first failure has ended
    assert auth.principal(c.token, "192.0.2.1").account_id == c.account_id
    assert auth._blocked == {}  # nothing blocked any more: the fast path is free again


def test_one_token_is_blocked_whatever_the_address(db: Database, plan: str) -> None:
    c = make_customer(db)
    with db.write() as session:
        admin.revoke_token(session, _token_id(db, c), actor="tests")
    clock = Clock()
    auth = _auth(db, clock, per_address=100, per_token=2)
    assert _refused(auth, c.token, "198.51.100.1") is Unauthenticated
    assert _refused(auth, c.token, "198.51.100.2") is Unauthenticated
    assert _refused(auth, c.token, "198.51.100.3") is TooManyRequests
    assert _refused(auth, WRONG, "198.51.100.3") is Unauthenticated  # another credential
    assert (("token", hash_token(c.token))) in auth._blocked


def test_only_wrong_tokens_count(db: Database, plan: str) -> None:
    """No token guesses nothing, and a suspended account's token is a right one: neither
    counts; neither do thousands of valid calls."""
    c = make_customer(db)
    suspended = make_customer(db, name="Gone")
    with db.write() as session:
        admin.suspend(session, suspended.account_id, actor="tests")
    auth = _auth(db, Clock(), per_address=2, per_token=2)
    for _ in range(5):
        assert _refused(auth, None, "203.0.113.9") is Unauthenticated
        assert _refused(auth, "", "203.0.113.9") is Unauthenticated
        assert _refused(auth, suspended.token, "203.0.113.9") is Forbidden
    for _ in range(2000):
        auth.principal(c.token, "203.0.113.9")
    assert auth._blocked == {} and _windows(db) == {}
    assert _refused(auth, WRONG, "203.0.113.9") is Unauthenticated


def test_a_valid_token_never_writes(
    db: Database, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path: only failures touch the limits' table. A valid token's cache miss reads
    (its token and its address's window, in one transaction), its cache hits read nothing."""
    c = make_customer(db)
    clock = Clock()
    auth = _auth(db, clock)
    writes, reads = _count(monkeypatch, db, "write"), _count(monkeypatch, db, "read")
    for _ in range(500):
        auth.principal(c.token, "203.0.113.10")
    clock.now += 5  # past the cache's 2 s: one more miss
    for _ in range(500):
        auth.principal(c.token, "203.0.113.10")
    assert (writes, reads) == ([], [1, 1])
    _refused(auth, WRONG, "203.0.113.10")
    assert writes == [1]  # a failure: one transaction, both keys in one statement


def _count(monkeypatch: pytest.MonkeyPatch, db: Database, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(db, name)

    def counted() -> object:
        calls.append(1)
        return real()

    monkeypatch.setattr(db, name, counted)
    return calls


def test_two_processes_count_the_same_failures(db: Database, plan: str) -> None:
    """Two Authenticators (two processes' worth: their own engines, caches and blocks) on one
    database: failures split between them reach one limit, not one each."""
    c = make_customer(db)
    clock = Clock()
    other_db = Database(db.url)
    try:
        first, second = _auth(db, clock), _auth(other_db, clock)
        assert _refused(first, f"{WRONG}1", "192.0.2.50") is Unauthenticated
        assert _refused(second, f"{WRONG}2", "192.0.2.50") is Unauthenticated
        assert _refused(first, f"{WRONG}3", "192.0.2.50") is Unauthenticated  # the limit: 3
        # the second never saw the third failure: its next failure is counted past the limit
        with pytest.raises(TooManyRequests) as past:
            second.principal(f"{WRONG}4", "192.0.2.50")
        assert past.value.code == "too_many_failed_authentications"
        assert 59 <= past.value.retry_after <= 60
        # a right token that neither has cached, from that address: refused by both (the
        # second knows from its failure, a third process would from its cache miss's read)
        third = _auth(other_db, clock)
        assert _refused(third, c.token, "192.0.2.50") is TooManyRequests
        assert _refused(first, c.token, "192.0.2.50") is TooManyRequests
        assert third.principal(c.token, "192.0.2.51").account_id == c.account_id
        clock.now += 60  # the window has ended, for every process
        for auth in (first, second, third):
            assert auth.principal(c.token, "192.0.2.50").account_id == c.account_id
    finally:
        other_db.dispose()


def test_the_token_limit_stores_no_token(db: Database, plan: str) -> None:
    """The per-token key is a digest of the token's hash, neither the token nor the hash
    that ``api_tokens`` holds; the address is kept as given (the operator's view)."""
    c = make_customer(db)
    with db.write() as session:
        admin.revoke_token(session, _token_id(db, c), actor="tests")
    auth = _auth(db, Clock())
    _refused(auth, c.token, "198.51.100.7")
    stored = _windows(db)
    assert set(stored.values()) == {1}
    keys = {key for _, key in stored}
    assert "198.51.100.7" in keys
    assert not {c.token, hash_token(c.token)} & keys
    assert not any(c.token in k or hash_token(c.token) in k for k in keys)


def _windows(db: Database) -> dict[tuple[str, str], int]:
    with db.read() as session:
        rows = session.execute(select(LimitWindow.scope, LimitWindow.key, LimitWindow.hits))
        return {(scope, key): hits for scope, key, hits in rows}


def test_limits_are_settings() -> None:
    settings = Settings(
        _env_file=None,
        auth_failures_per_address=7,
        auth_failures_per_token=4,
        auth_failure_window_seconds=30,
    )
    assert (settings.auth_failures_per_address, settings.auth_failures_per_token) == (7, 4)
    assert settings.auth_failure_window_seconds == 30.0


def _token_id(db: Database, c: Customer) -> int:
    with db.read() as session:
        found = session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(c.token))
        )
    assert found is not None
    return found


# --- over HTTP, on every surface ---------------------------------------------------------

Check = Callable[[httpx.Response, int], None]


def _native(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == status and body["code"] and body["detail"]


def _smsgic(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    expected = {401: "Unauthenticated.", 429: "Too Many Attempts."}[status]
    assert answer.json() == {"message": expected}


def _devsms(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False and body["error"] and set(body) == {"success", "error"}


def _smsby(answer: httpx.Response, status: int) -> None:
    # sms.by answers every token problem with 403
    assert answer.status_code == (403 if status == 401 else status), answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]


# (surface, method, path, how the token travels, shape)
SURFACES: list[tuple[str, str, str, str, Check]] = [
    ("native", "GET", "/v1/balance", "bearer", _native),
    ("native send", "POST", "/v1/messages", "bearer", _native),
    ("admin", "GET", "/v1/admin/accounts", "bearer", _native),
    ("admin tokens", "POST", "/v1/admin/operator-tokens", "bearer", _native),
    ("smsgic", "GET", "/balance", "bearer", _smsgic),
    ("devsms", "GET", "/api/get_balance.php", "bearer", _devsms),
    ("devsms send", "POST", "/api/send_sms.php", "bearer", _devsms),
    ("smsby", "GET", "/api/v1/getBalance", "bearer", _smsby),
    ("smsby param", "POST", "/api/v1/getBalance", "param", _smsby),
]


@pytest.fixture
def strict(settings: Settings, plan: str) -> Iterator[str]:
    limited = settings.model_copy(
        update={
            "auth_failures_per_address": 3,
            "auth_failures_per_token": 1000,
            "auth_failure_window_seconds": 60.0,
        }
    )
    with running_server(limited, dispatch=False) as url:
        yield url


def _call(
    client: httpx.Client, method: str, path: str, how: str, token: str, address: str
) -> httpx.Response:
    # uvicorn takes X-Forwarded-For from a loopback peer (a reverse proxy on the same host),
    # so each case can play a client address of its own.
    headers = {"X-Forwarded-For": address}
    if how == "param":
        return client.request(method, path, headers=headers, data={"token": token})
    headers["Authorization"] = f"Bearer {token}"
    return client.request(method, path, headers=headers, json={})


def test_every_surface_answers_429_in_its_shape(db: Database, strict: str) -> None:
    op, customer = make_operator(db).headers, make_customer(db).headers
    with httpx.Client(base_url=strict, timeout=30) as client:
        for n, (name, method, path, how, check) in enumerate(SURFACES):
            address = f"192.0.2.{10 + n}"  # each surface its own caller
            valid = op if "admin" in name else customer
            token = valid["Authorization"].removeprefix("Bearer ")
            for k in range(3):
                check(_call(client, method, path, how, f"{WRONG}{k}", address), 401)
            for candidate in (f"{WRONG}9", token):  # wrong or right, the same answer now
                blocked = _call(client, method, path, how, candidate, address)
                check(blocked, 429)
                assert 1 <= int(blocked.headers["retry-after"]) <= 60, name
            # the same token from another address is served
            other = client.request(
                "GET",
                "/v1/admin/accounts" if "admin" in name else "/v1/balance",
                headers={**valid, "X-Forwarded-For": f"198.51.100.{n}"},
            )
            assert other.status_code == 200, (name, other.text)


def test_token_creation_routes_are_behind_the_same_limit(db: Database, strict: str) -> None:
    """No password login exists: tokens are made by operators, whose token is checked by the
    same limited authentication; a guesser never reaches the route."""
    op = make_operator(db)
    c = make_customer(db, balance=Decimal("1"))
    route = f"/v1/admin/accounts/{c.account_id}/tokens"
    with httpx.Client(base_url=strict, timeout=30) as client:
        for n in range(3):
            _native(_call(client, "POST", route, "bearer", f"{WRONG}{n}", "192.0.2.90"), 401)
        right = op.headers["Authorization"].removeprefix("Bearer ")
        _native(_call(client, "POST", route, "bearer", right, "192.0.2.90"), 429)
        made = client.post(route, headers={**op.headers, "X-Forwarded-For": "192.0.2.91"})
        assert made.status_code == 201, made.text
    with db.read() as session:
        _, total = admin.list_tokens(session, c.account_id, limit=10, offset=0)
    assert total == 2  # the factory's and the one made from the other address


# --- two real API processes on one PostgreSQL ----------------------------------------------

PER_ADDRESS = 6


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_api_processes_share_one_limit(
    db_url: str, db: Database, plan: str, tmp_path: Path
) -> None:
    """Two ``smsgate serve --no-dispatch`` on one PostgreSQL, failures split between them on
    every surface: refused at the limit, not at twice it, in the surface's 429 shape with
    Retry-After; a right token that the other process never saw is refused from that address
    too; other addresses are served by both. The same for the dashboard's sign-ins."""
    op, customer = make_operator(db).headers, make_customer(db).headers
    fresh = make_customer(db, name="Fresh")  # a token no process has cached yet
    with db.write() as session:
        create_user(session, "ann@example.com", PASSWORD, account_id=fresh.account_id)
    limited = {
        "SMSGATE_AUTH_FAILURES_PER_ADDRESS": str(PER_ADDRESS),
        "SMSGATE_AUTH_FAILURES_PER_TOKEN": "1000",
        "SMSGATE_AUTH_FAILURE_WINDOW_SECONDS": "60",
        "SMSGATE_DASHBOARD_SIGNIN_PER_EMAIL": "3",
    }
    with Cluster(db_url, tmp_path, settings=limited) as cluster:
        bases = [base for _, base in cluster.apis(2)]
        clients = [httpx.Client(base_url=b, timeout=30) for b in bases]
        try:
            for n, (name, method, path, how, check) in enumerate(SURFACES):
                address = f"192.0.2.{100 + n}"
                valid = op if "admin" in name else customer
                token = valid["Authorization"].removeprefix("Bearer ")
                for k in range(PER_ADDRESS):  # A, B, A, B, ...: 3 each, 6 in all
                    answer = _call(clients[k % 2], method, path, how, f"{WRONG}{k}", address)
                    check(answer, 401)
                for client in clients:  # the 7th failure, on either: the shared limit
                    for candidate in (f"{WRONG}x", token):
                        blocked = _call(client, method, path, how, candidate, address)
                        check(blocked, 429)
                        assert 1 <= int(blocked.headers["retry-after"]) <= 60, name
                for client in clients:  # the same token from elsewhere is served by both
                    other = client.request(
                        "GET",
                        "/v1/admin/accounts" if "admin" in name else "/v1/balance",
                        headers={**valid, "X-Forwarded-For": f"198.51.100.{n}"},
                    )
                    assert other.status_code == 200, (name, other.text)
            # every failure on the first process only; the second, which counted none and
            # never saw this token, refuses it from that address (it reads the window on its
            # cache miss) and serves it from another
            for k in range(PER_ADDRESS):
                _native(
                    _call(clients[0], "GET", "/v1/balance", "bearer", f"{WRONG}{k}", "192.0.2.99"),
                    401,
                )
            _native(
                _call(clients[1], "GET", "/v1/balance", "bearer", fresh.token, "192.0.2.99"), 429
            )
            served = _call(clients[1], "GET", "/v1/balance", "bearer", fresh.token, "192.0.2.98")
            assert served.status_code == 200, served.text
            # the dashboard's sign-in limit per email: 3 attempts split, the 4th refused
            wrong, right = User("ann@example.com", "guess"), User("ann@example.com", PASSWORD)
            for k in range(3):
                assert http_sign_in(clients[k % 2], wrong).status_code == 401
            for client in clients:
                refused = http_sign_in(client, right)
                assert refused.status_code == 429
                assert "Too many sign-in attempts. Try again in" in refused.text
        finally:
            for client in clients:
                client.close()
        cluster.stop()
        assert not cluster.failures(), "\n".join(cluster.failures())
    stored = _windows(db)
    assert stored[("auth_address", "192.0.2.99")] == PER_ADDRESS
    # per surface: 6 failures, then the 7th on the process that had not reached the limit
    # (the other knew from its own 6th and refused without counting)
    surfaces = {k: h for (scope, k), h in stored.items() if k.startswith("192.0.2.1")}
    assert surfaces == {f"192.0.2.{100 + n}": PER_ADDRESS + 1 for n in range(len(SURFACES))}
    tokens = [k for scope, k in stored if scope == "auth_token"]
    assert tokens and all(k.startswith("sha256:") for k in tokens)
    emails = [(k, h) for (scope, k), h in stored.items() if scope == "signin_email"]
    assert len(emails) == 1 and emails[0][0].startswith("sha256:") and emails[0][1] == 5
