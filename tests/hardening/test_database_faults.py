"""The database away for a few seconds: SQLite locked by another process, PostgreSQL stopped
and started again.

While it is away every surface answers in its own error shape with ``Retry-After`` (503;
sms.by's documented 500), never an internal error; a send refused that way is not stored or
charged, and the group-commit writer that failed the batch keeps serving. Once the
database is back the API answers again by itself, and the dispatcher finishes every
message accepted before the outage. The rules are in docs/reliability.md ("Faults").
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from smsgate.db import outage
from smsgate.errors import StorageFull, Unavailable
from smsgate.migrations import upgrade
from tests.hardening.outage import (
    Traffic,
    check_outage,
    fault_settings,
    fire,
    probes,
    send_before,
    served_logs,
    settle,
    succeeded,
    world_on,
)
from tests.support.postgres import pg_bin, postgres_server
from tests.support.server import running_server

LOCK_SECONDS = 5


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    with served_logs():
        yield


# --- SQLite: another process holds the write lock -----------------------------------------

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "smsgate.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def test_sqlite_locked_by_another_process(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    with world_on(sqlite_url) as world, running_server(fault_settings(sqlite_url)) as base:
        send_before(base, world)
        with Traffic(base, world) as traffic:
            time.sleep(0.3)
            with subprocess.Popen(
                [sys.executable, "-c", LOCKER, path, str(LOCK_SECONDS)],
                stdout=subprocess.PIPE,
                text=True,
            ) as locker:
                assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
                locked = time.monotonic()
                # Every write, three times at once: concurrent sends share one commit, and
                # when it fails each of its callers gets 503.
                writes = [p for p in probes(world.customer, 500) if p.writes]
                burst = fire(base, writes * 3, world.customer.token, world.operator)
                assert locker.poll() is None, "the lock ended before the writes were answered"
            released = time.monotonic()
            took = traffic.recovered(released)
        world.count(burst)
        for probe, response in burst:
            check_outage(probe, response)
        traffic.check()  # the rounds around the lock: each write refused or done, cleanly
        # WAL: readers are never blocked by a writer
        assert all(succeeded(r) for p, r in traffic.answered_since(0) if not p.writes)
        print(f"\nSQLite lock of {released - locked:.1f} s: answers again {took:.2f} s after")
        settle(world)


# --- PostgreSQL: the server stops and starts again ----------------------------------------


def _pg_ctl(data: str, *args: str) -> None:
    binaries = pg_bin()
    assert binaries is not None
    command = [str(binaries / "pg_ctl"), "-D", data, *args]
    if os.geteuid() == 0:  # the server runs as the postgres user (tests/support/postgres.py)
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, str]]:
    """A PostgreSQL server of this test alone (stopping the shared one would break others):
    the database URL and the server's data directory."""
    with postgres_server() as server:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE smsgate"))
            data = str(conn.scalar(text("SHOW data_directory")))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + "/smsgate"
        upgrade(url)
        yield url, data


@pytest.mark.postgres
def test_postgres_restarted(own_postgres: tuple[str, str]) -> None:
    url, data = own_postgres
    # How the server was started, to start it again the same way.
    started_with = shlex.split(Path(data, "postmaster.opts").read_text())
    options = started_with[started_with.index("-D") + 2 :]
    with world_on(url) as world, running_server(fault_settings(url)) as base:
        send_before(base, world)
        with Traffic(base, world) as traffic:
            time.sleep(0.3)
            _pg_ctl(data, "stop", "-m", "fast", "-w")
            down = time.monotonic()
            try:
                time.sleep(3)
            finally:
                _pg_ctl(data, "start", "-w", "-o", shlex.join(options), "-l", f"{data}/../log")
            up = time.monotonic()
            took = traffic.recovered(up)
        traffic.check()
        refused = {p.name for p, r in traffic.answered_since(down) if not succeeded(r)}
        assert refused == {p.name for p in probes(world.customer)}
        print(f"\nPostgreSQL away {up - down:.1f} s: answers again {took:.2f} s after")
        settle(world)


# --- which errors are an outage ------------------------------------------------------------


def test_outage_tells_a_full_disk_and_an_unreachable_database_from_a_bug(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tiny.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES ('taken')"))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA max_page_count = 3")  # the table's pages and no more
        with pytest.raises(OperationalError) as full:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "x" * 100_000})
        with pytest.raises(IntegrityError) as duplicate:
            conn.execute(text("INSERT INTO t VALUES ('taken')"))
    engine.dispose()
    stored = outage(full.value)
    assert isinstance(stored, StorageFull) and stored.code == "storage_full"
    assert outage(duplicate.value) is None  # a bug or a bad request, not an outage
    assert outage(RuntimeError("boom")) is None
    closed = InterfaceError("SELECT 1", {}, Exception("the connection is closed"))
    invalidated = DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True)
    for error in (closed, invalidated, PoolTimeout("QueuePool limit reached")):
        found = outage(error)
        assert isinstance(found, Unavailable) and found.code == "unavailable", error
