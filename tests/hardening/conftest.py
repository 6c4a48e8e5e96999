"""One smsgate per module and engine for the bad-input suites: fuzzing sends thousands of
requests, so the server, its customer and its operator are built once and shared."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
import structlog
from sqlalchemy import create_engine, select, text

from smsgate.accounts.models import ApiToken, TokenScope
from smsgate.accounts.service import create_token
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.senders.service import request_sender
from tests.support.factories import Customer, make_customer, make_plan
from tests.support.server import running_server

_copies = itertools.count()
DEVSMS_SENDER = "4546"  # devsms.uz's default `from`
# Small, so that a fuzzer's huge value meets the limit without sending megabytes.
BODY_LIMIT = 256 * 1024


@dataclass(frozen=True, slots=True)
class Gate:
    """A running smsgate with a funded customer and an operator."""

    url: str
    db: Database
    customer: Customer
    operator_token: str
    token_ids: frozenset[int]  # the two above: a fuzzer must not revoke them

    @property
    def operator_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}


def _database(request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        target = tmp.mktemp("hardening") / "smsgate.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    server: str = request.getfixturevalue("pg_template")
    name = f"fuzz{next(_copies)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE smsgate_template"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def http(gate: Gate) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gate.url, timeout=30) as client:
        yield client


@contextmanager
def plain_tracebacks() -> Iterator[None]:
    """Tracebacks rendered as ``smsgate serve`` renders them (``logs.configure``). The test
    default draws every frame's locals, which takes seconds per logged 500 on the event loop
    and turns a found bug into a timeout."""
    saved = structlog.get_config()
    plain = structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )
    structlog.configure(processors=[*saved["processors"][:-1], plain])
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def gate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gate]:
    # No dispatcher: these suites are about what the API answers, and the 2 cores are shared.
    settings = Settings(
        database_url=_database(request, tmp_path_factory),
        demo=False,
        # Rate limits are another suite's subject; here they would turn valid calls into 429.
        smsby_per_minute=10**9,
        smsgic_calculate_per_minute=10**9,
        max_body_bytes=BODY_LIMIT,
    )
    database = Database(settings.database_url)
    make_plan(database)
    customer = make_customer(database, balance=Decimal(1_000_000))
    with database.write() as session:
        request_sender(session, customer.account_id, DEVSMS_SENDER, approved=True)
        _, operator = create_token(session, None, scope=TokenScope.OPERATOR, name="hardening")
        token_ids = frozenset(session.scalars(select(ApiToken.id)))
    try:
        with plain_tracebacks(), running_server(settings, dispatch=False) as url:
            yield Gate(url, database, customer, operator, token_ids)
    finally:
        database.dispose()
