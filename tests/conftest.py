from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.migrations import upgrade
from tests.support.factories import make_plan
from tests.support.npm_smsc import install_smpp, missing_tools
from tests.support.postgres import postgres_server

_counter = itertools.count()
# Connector credentials are sealed under this key in the tests and the processes they start
# (a PostgreSQL database has no key file beside it: connectors/vault.py).
os.environ.setdefault("SMSGATE_SECRET_KEY", Fernet.generate_key().decode())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", help="also run tests marked slow (long end-to-end runs)"
    )


# Modules whose tests start processes and run for tens of seconds each: collected first, so
# that xdist's workers share them from the start instead of one worker finishing the run
# alone with one of them while the other is idle (about a minute of the suite's time).
LONG_FIRST = (
    "tests/scale/",
    "tests/dispatch/test_npm_smsc.py",
    "tests/hardening/test_kill.py",
    "tests/test_processes.py",
    "tests/test_bench_smoke.py",
    "tests/test_crash.py",
    "tests/test_soak_smoke.py",
    "tests/hardening/test_auth_limits.py",
    "tests/hardening/test_schemathesis.py",
    "tests/test_cli.py",
)


def _long_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, p in enumerate(LONG_FIRST) if path.startswith(p)), len(LONG_FIRST))


def _runs_slow(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow")) or "slow" in (config.getoption("-m") or "")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Modules of slow tests alone (``*_slow.py``) are not even imported unless slow tests
    run: schemathesis builds a test's cases while collecting it (about 4 s a worker)."""
    if collection_path.name.endswith("_slow.py") and not _runs_slow(config):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long modules first (``LONG_FIRST``); tests marked ``slow`` run only with
    ``--runslow`` or when ``-m`` names the marker."""
    items.sort(key=_long_first)  # stable: each module's tests keep their order
    if _runs_slow(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    with postgres_server() as url:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE smsgate_template"))
        upgrade(url.rsplit("/", 1)[0] + "/smsgate_template")
        yield url
        admin.dispose()


def _pg_copy(server_url: str) -> str:
    name = f"t{next(_counter)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE smsgate_template"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "smsgate.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    return _pg_copy(request.getfixturevalue("pg_template"))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        simulator_delay=0.05,
        demo=False,
        dispatch_idle_seconds=0.02,
        retry_base_seconds=0.05,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def plan(db: Database) -> str:
    return make_plan(db)


@pytest.fixture
def server(settings: Settings, plan: str) -> Iterator[str]:
    from tests.support.server import running_server

    with running_server(settings) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def npm_smpp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """node_modules with the pinned npm ``smpp`` package, installed once per test session
    (and per xdist worker); the independent SMSC of tests/support/npm_smsc.py runs on it."""
    why = missing_tools()
    if why is not None:
        pytest.skip(f"the independent SMSC needs node and npm: {why}")
    return install_smpp(tmp_path_factory.mktemp("npm-smpp"))
