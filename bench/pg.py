"""A throwaway PostgreSQL for the benchmark: the test suite's server, with fsync on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.support.postgres import pg_bin, postgres_server


@dataclass(frozen=True, slots=True)
class PgServer:
    url: str  # the server's ``postgres`` database

    def create_database(self, name: str, template: str | None = None) -> str:
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        copy = f' TEMPLATE "{template}"' if template else ""
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        finally:
            admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def postmaster_pid(self) -> int:
        """The server's main process (a backend's parent), whose tree the CPU meter reads."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
            return int(stat[1])
        finally:
            engine.dispose()

    def version(self) -> str:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar_one())
        finally:
            engine.dispose()


def available() -> bool:
    return pg_bin() is not None


@contextmanager
def durable_postgres() -> Iterator[PgServer]:
    """Default settings but for loopback and 200 connections; fsync and synchronous_commit
    stay on, so an accepted message is on disk as in production."""
    with postgres_server(durable=True) as url:
        yield PgServer(url)
