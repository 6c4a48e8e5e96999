"""Fixtures for the dashboard's tests, in a real browser and over real HTTP.

For the operator pages too: ``dashboard`` is one smsgate (SQLite, simulator) per test
session with helpers that make customers and users through the services, ``browser`` one
Debian Chromium driven by Playwright per session, ``page`` a fresh browser context (its own
cookies) per test, ``sign_in(page, user)`` (through the form), ``enter(page, dashboard,
user)`` (a session made by the service, without the deliberately slow password check) and
``screenshot(page, name)`` (PNG files into docs/dashboard/ when ``SMSGATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsgate.config import Settings
from smsgate.dashboard.sessions import Lifetime
from smsgate.dashboard.sessions import open_session as open_session_for
from smsgate.dashboard.users import create_user, find_by_email
from smsgate.dashboard.web import SESSION_COOKIE
from smsgate.db import Database
from smsgate.kit.time import utcnow
from tests.support.factories import make_customer, make_plan

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"
PASSWORD = "correct horse battery"
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class User:
    email: str
    password: str
    account_id: int | None = None
    token: str = ""  # the account's API token (customers)
    sender: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True, slots=True)
class Dashboard:
    url: str
    db: Database
    settings: Settings

    def customer(
        self,
        *,
        locale: str | None = None,
        balance: Decimal = Decimal("10"),
        timezone: str = "UTC",
        name: str = "Acme",
        sender: str = "ACME",
    ) -> User:
        """A new account with an approved sender, an API token and one dashboard user."""
        n = next(_ids)
        made = make_customer(
            self.db, balance=balance, timezone=timezone, name=f"{name} {n}", sender=sender
        )
        email = f"user{n}-{os.getpid()}@example.com"
        with self.db.write() as session:
            create_user(session, email, PASSWORD, account_id=made.account_id, locale=locale)
        return User(email, PASSWORD, made.account_id, made.token, made.sender)

    def operator(self) -> User:
        email = f"operator{next(_ids)}-{os.getpid()}@example.com"
        with self.db.write() as session:
            create_user(session, email, PASSWORD, operator=True)
        return User(email, PASSWORD)


def dashboard_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "simulator_delay": 0.05,
        "demo": False,
        "dispatch_idle_seconds": 0.02,
        "retry_base_seconds": 0.05,
        # every test signs in from 127.0.0.1; the per-address limit has its own test
        "dashboard_signin_per_address": 100_000,
        # webhooks go to a receiver on loopback, and are retried quickly
        "webhooks_allow_private": True,
        "webhooks_idle_seconds": 0.05,
        "webhooks_retry_base_seconds": 0.05,
        "webhooks_retry_max_seconds": 0.2,
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="session")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Dashboard]:
    """One smsgate for the session's dashboard tests; each test makes its own accounts."""
    from tests.support.server import running_server

    path = tmp_path_factory.mktemp("dashboard") / "smsgate.db"
    shutil.copyfile(sqlite_template, path)
    settings = dashboard_settings(f"sqlite:///{path}")
    db = Database(settings.database_url)
    make_plan(db)
    with running_server(settings) as url:
        yield Dashboard(url, db, settings)
    db.dispose()


# Module scope, not session: Playwright's sync API keeps an event loop running in the
# thread, so while a browser lives, a test of another module in the same xdist worker could
# not call asyncio.run(). pytest ends module fixtures before it moves to another module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh temporary user-data-dir.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    context = browser.new_context(
        base_url=dashboard.url, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, user: User) -> None:
    page.goto("/app/signin")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(app|admin)(/.*)?$"))


def open_session(dashboard: Dashboard, user: User) -> str:
    """A session for ``user`` made by the sessions service, as sign-in makes it (without the
    deliberately slow password check): the cookie's value."""
    with dashboard.db.write() as session:
        row = find_by_email(session, user.email)
        assert row is not None
        return open_session_for(session, row, _lifetime(dashboard.settings), utcnow())


def enter(page: Any, dashboard: Dashboard, user: User, path: str = "/app") -> None:
    """Open ``path`` as ``user``, signed in through ``open_session``; the sign-in form
    itself has its own tests."""
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": open_session(dashboard, user), "url": dashboard.url}]
    )
    page.goto(path)


def _lifetime(settings: Settings) -> Lifetime:
    return Lifetime.of(
        settings.dashboard_session_idle_seconds, settings.dashboard_session_max_seconds
    )


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page for docs/dashboard.md (only with SMSGATE_SCREENSHOTS=1)."""
    if os.environ.get("SMSGATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def http_sign_in(client: httpx.Client, user: User) -> httpx.Response:
    """Sign ``client`` in the way a browser does: the form, its token, the POST."""
    form = client.get("/app/signin")
    return client.post(
        "/app/signin",
        data={"email": user.email, "password": user.password, "csrf_token": csrf_of(form.text)},
    )


@pytest.fixture
def http(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.url, timeout=30) as client:
        yield client
