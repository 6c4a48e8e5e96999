"""Sign-in, CSRF, sessions and invitations over real HTTP (no browser)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smsgate.dashboard.users import invite
from smsgate.db import Database
from tests.dashboard.conftest import (
    PASSWORD,
    Dashboard,
    User,
    csrf_of,
    dashboard_settings,
    http_sign_in,
)
from tests.support.factories import make_customer, make_plan
from tests.support.server import running_server


def test_sign_in_sets_a_guarded_session_cookie(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    answer = http_sign_in(http, user)
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http on loopback; https requests get Secure
    page = http.get("/app")
    assert page.status_code == 200 and user.email in http.get("/app/me").text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_wrong_password_and_unknown_email_look_the_same(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    wrong = http_sign_in(http, User(user.email, "not the password"))
    unknown = http_sign_in(http, User("nobody@example.com", PASSWORD))
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text
    assert "smsgate_session" not in wrong.headers.get("set-cookie", "")


def test_a_post_without_the_csrf_token_is_refused(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    http_sign_in(http, user)
    token = csrf_of(http.get("/app/tokens").text)
    for data in ({"name": "no token"}, {"name": "forged", "csrf_token": "x" * 43}):
        refused = http.post("/app/tokens", data=data)
        assert refused.status_code == 403
        assert "csrf_failed" in refused.text
    refused = http.post("/app/api/segments", json={"text": "hi"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert "forged" not in http.get("/app/tokens").text
    made = http.post("/app/tokens", data={"name": "with token", "csrf_token": token})
    assert made.status_code == 200 and "sg_" in made.text
    counted = http.post("/app/api/segments", json={"text": "hi"}, headers={"X-CSRF-Token": token})
    assert counted.json()["parts"] == 1


def test_signing_in_needs_the_double_submit_cookie(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    form = http.get("/app/signin")
    token = csrf_of(form.text)
    http.cookies.clear()  # a form posted from another site carries no cookie of ours
    answer = http.post(
        "/app/signin", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 403


def test_sign_out_everywhere_ends_every_session(dashboard: Dashboard) -> None:
    user = dashboard.customer()
    with (
        httpx.Client(base_url=dashboard.url) as laptop,
        httpx.Client(base_url=dashboard.url) as phone,
    ):
        http_sign_in(laptop, user)
        http_sign_in(phone, user)
        assert phone.get("/app").status_code == 200
        page = laptop.get("/app/me")
        assert page.text.count("/end") == 2  # both sessions are listed
        done = laptop.post("/app/signout-everywhere", data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303 and done.headers["location"] == "/app/signin"
        for client in (laptop, phone):
            answer = client.get("/app/messages")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/app/signin?next=/app/messages"
        assert phone.get("/app/api/uploads/1").status_code == 401


def test_sign_out_ends_only_this_session(dashboard: Dashboard) -> None:
    user = dashboard.customer()
    with httpx.Client(base_url=dashboard.url) as one, httpx.Client(base_url=dashboard.url) as two:
        http_sign_in(one, user)
        http_sign_in(two, user)
        one.post("/app/signout", data={"csrf_token": csrf_of(one.get("/app").text)})
        assert one.get("/app").status_code == 303
        assert two.get("/app").status_code == 200


@pytest.fixture
def strict_server(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, Database]]:
    """A server of its own with small sign-in limits and a 3-second idle timeout."""
    path = tmp_path / "smsgate.db"
    path.write_bytes(sqlite_template.read_bytes())
    settings = dashboard_settings(
        f"sqlite:///{path}",
        dashboard_signin_per_email=3,
        dashboard_signin_per_address=5,
        dashboard_session_idle_seconds=3,
    )
    db = Database(settings.database_url)
    make_plan(db)
    with running_server(settings, dispatch=False) as url:
        yield url, db
    db.dispose()


def _user(db: Database, email: str) -> User:
    from smsgate.dashboard.users import create_user

    made = make_customer(db)
    with db.write() as session:
        create_user(session, email, PASSWORD, account_id=made.account_id)
    return User(email, PASSWORD, made.account_id)


def test_sign_in_is_rate_limited_per_email_and_per_address(
    strict_server: tuple[str, Database],
) -> None:
    url, db = strict_server
    ann, bob = _user(db, "ann@example.com"), _user(db, "bob@example.com")
    with httpx.Client(base_url=url) as http:
        for _ in range(3):
            assert http_sign_in(http, User(ann.email, "guess")).status_code == 401
        limited = http_sign_in(http, ann)  # the right password, but too late
        assert limited.status_code == 429
        assert re.search(r"Too many sign-in attempts. Try again in (9|10) minutes.", limited.text)
        assert http_sign_in(http, bob).status_code == 303  # another email: 5th from here
        http.cookies.clear()
        assert http_sign_in(http, bob).status_code == 429  # the address's limit


def test_an_idle_session_expires(strict_server: tuple[str, Database]) -> None:
    url, db = strict_server
    user = _user(db, "idle@example.com")
    with httpx.Client(base_url=url) as http:
        http_sign_in(http, user)
        assert http.get("/app").status_code == 200
        time.sleep(3.5)
        answer = http.get("/app")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/app/signin")


def test_an_invitation_sets_a_password_once(http: httpx.Client, dashboard: Dashboard) -> None:
    made = make_customer(dashboard.db, name="Invited Ltd")
    with dashboard.db.write() as session:
        link = invite(session, made.account_id, "New.Person@Example.com")
    page = http.get(link.path)
    assert page.status_code == 200 and "new.person@example.com" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    token = csrf_of(page.text)
    differ = http.post(
        link.path, data={"password": "long enough 1", "confirm": "other", "csrf_token": token}
    )
    assert differ.status_code == 422 and "The two passwords differ." in differ.text
    short = http.post(
        link.path, data={"password": "short", "confirm": "short", "csrf_token": token}
    )
    assert short.status_code == 422 and "at least 8 characters" in short.text
    done = http.post(
        link.path,
        data={"password": "long enough 1", "confirm": "long enough 1", "csrf_token": token},
    )
    assert done.status_code == 303 and done.headers["location"] == "/app"
    assert "Invited Ltd" in http.get("/app").text
    http.cookies.clear()
    assert http.get(link.path).status_code == 404  # used
    again = http_sign_in(http, User("new.person@example.com", "long enough 1"))
    assert again.status_code == 303


def test_an_operator_is_sent_to_the_operator_pages(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    operator = dashboard.operator()
    answer = http_sign_in(http, operator)
    assert answer.headers["location"] == "/admin"
    refused = http.get("/app/messages")
    assert refused.status_code == 403 and "customer_only" in refused.text


def test_unknown_dashboard_paths_answer_in_the_dashboards_shape(http: httpx.Client) -> None:
    page = http.get("/app/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = http.get("/app/api/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "unknown_path"
