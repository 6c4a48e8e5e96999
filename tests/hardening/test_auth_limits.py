"""Failed authentications are limited per client address and per token (429 with Retry-After),
on every surface, in that surface's shape; valid tokens keep their cached fast path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from smsgate.accounts import admin
from smsgate.accounts.auth import Authenticator, FailureLimits
from smsgate.accounts.models import ApiToken
from smsgate.accounts.service import hash_token
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.errors import Forbidden, TooManyRequests, Unauthenticated
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
    assert auth._blocked == {} and auth._by_address._windows == {}
    assert _refused(auth, WRONG, "203.0.113.9") is Unauthenticated


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
