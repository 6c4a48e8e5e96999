"""A throwaway PostgreSQL server from the machine's own binaries, for the test session.

Written here rather than taken from pytest-postgresql because the suite runs as root in CI
and initdb refuses root: the server is run as the ``postgres`` system user when we are root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_CANDIDATES = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


def pg_bin() -> Path | None:
    env = os.environ.get("SMSGATE_TEST_PG_BIN")
    for candidate in ([env] if env else []) + list(BIN_CANDIDATES):
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Yield a server URL (database ``postgres``); the server and its files go afterwards.

    The tests skip fsync for speed; the benchmark asks for ``durable`` so that an accepted
    message costs what it costs in production (a WAL flush per commit).
    """
    binaries = pg_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL binaries not found (set SMSGATE_TEST_PG_BIN)")
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="smsgate-pg-"))
    data = root / "data"
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    _run(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        as_postgres,
    )
    options = f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=200"
    if not durable:
        options += " -F -c fsync=off"
    _run(
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        as_postgres,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
        # A test session leaves hundreds of databases (about 100,000 files); removing them
        # took 15-35 s at the end of each xdist worker, so they go in the background.
        # (through a shell that starts rm and exits: a Popen left running warns when collected)
        subprocess.run(
            ["sh", "-c", 'rm -rf "$1" >/dev/null 2>&1 &', "sh", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
