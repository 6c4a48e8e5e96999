"""Disk full under SQLite: smsgate runs on a database file in a tmpfs of a few MB, which a
file beside it fills up.

While the disk is full every send (and every other write) is answered in its surface's own
shape with 503 (sms.by's documented 500), code ``storage_full`` and ``Retry-After``; reads
go on. Nothing answered with success before or during it is lost: once the filler file is
deleted the API accepts again by itself, every message reaches a final status and the
ledger matches the answers exactly. The process keeps running throughout.

Mounting a tmpfs needs root (as the suite runs in CI). Elsewhere the test emulates the full
disk with SQLite's ``max_page_count`` on the server's own connections, which SQLite reports
exactly as a full disk (``SQLITE_FULL``); it says which way it ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy import Engine, event

from smsgate.app import create_app
from tests.hardening.outage import (
    Probe,
    World,
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
from tests.support.server import serving
from tests.support.waiting import wait_for

MOUNT_SIZE = "12m"  # above the 4 MB WAL that SQLite checkpoints at: see the docs
ROOM = 192 * 1024  # what is left free when the disk is "filled": a few commits' worth
PAGE = 4096


class Storage(Protocol):
    how: str

    def fill(self) -> None: ...
    def free(self) -> None: ...


class Tmpfs:
    """A small tmpfs holding the database; a file beside it takes all but ``ROOM``."""

    how = "tmpfs"

    def __init__(self, root: Path) -> None:
        self.filler = root / "filler"

    def fill(self) -> None:
        stat = os.statvfs(self.filler.parent)
        size = stat.f_bavail * stat.f_frsize - ROOM
        with self.filler.open("wb") as f:
            f.write(b"\0" * max(0, size))

    def free(self) -> None:
        self.filler.unlink()


class PageLimit:
    """``PRAGMA max_page_count`` on every connection the server checks out: the database
    may grow by ``ROOM`` and no further."""

    how = "max_page_count"

    def __init__(self, engine: Engine) -> None:
        self.limit = 2**31 - 1
        event.listen(engine, "checkout", self._apply)
        self.engine = engine

    def _apply(self, dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={self.limit}")

    def fill(self) -> None:
        with self.engine.connect() as conn:
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        self.limit = pages + 8  # a few pages: SQLite fills its free pages before growing

    def free(self) -> None:
        self.limit = 2**31 - 1


@contextmanager
def small_disk() -> Iterator[Path | None]:
    """A freshly mounted tmpfs, or None where mounting is not allowed."""
    root = Path(tempfile.mkdtemp(prefix="smsgate-full-"))
    mount = ["mount", "-t", "tmpfs", "-o", f"size={MOUNT_SIZE}", "tmpfs", str(root)]
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(mount, capture_output=True, check=False).returncode == 0
    )
    try:
        yield root if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    with served_logs():
        yield


def _round(base: str, world: World, n: int) -> list[tuple[Probe, httpx.Response]]:
    """One probe of each kind; every answer is a success or a clean ``storage_full``."""
    answers = fire(base, probes(world.customer, n), world.customer.token, world.operator)
    world.count(answers)
    for probe, response in answers:
        if not succeeded(response):
            assert probe.writes, f"a read failed: {probe.name} {response.text}"
            check_outage(probe, response, "storage_full")
    return answers


def _until_every_write_refused(base: str, world: World) -> int:
    """Sends go on being accepted while the last bytes fill up, then every surface refuses
    its writes; returns the rounds it took."""
    writes = {p.name for p in probes(world.customer) if p.writes}
    refused: set[str] = set()
    deadline = time.monotonic() + 30
    n = 0
    while refused != writes:
        assert time.monotonic() < deadline, f"never refused: {writes - refused}"
        n += 1
        refused |= {p.name for p, r in _round(base, world, n) if not succeeded(r)}
    return n


def test_disk_full_refuses_cleanly_and_loses_nothing(sqlite_template: Path, tmp_path: Path) -> None:
    with small_disk() as root:
        path = (root or tmp_path) / "smsgate.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
        app = create_app(fault_settings(url))
        storage: Storage = Tmpfs(root) if root else PageLimit(app.state.runtime.db.engine)
        with world_on(url) as world, serving(app) as base:
            send_before(base, world)
            storage.fill()
            rounds = _until_every_write_refused(base, world)
            storage.free()
            freed = time.monotonic()
            numbers = iter(range(rounds + 1, rounds + 1000))
            wait_for(
                lambda: all(succeeded(r) for _, r in _round(base, world, next(numbers))),
                timeout=20,
                interval=0.2,
            )
            print(
                f"\ndisk full ({storage.how}) after {rounds} rounds of probes; accepted again"
                f" {time.monotonic() - freed:.2f} s after space was freed"
            )
            settle(world)
