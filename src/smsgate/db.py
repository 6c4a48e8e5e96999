"""Database access: the declarative base, column types, engines and transactions.

One request or one dispatcher batch is one transaction: services ``flush()``, the edge
commits. On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers never deadlock upgrading a read lock; reads use a separate engine and never block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from smsgate.errors import StorageFull, Unavailable
from smsgate.kit.money import from_units, to_units
from smsgate.kit.writelock import WriterLock

_PG_DISK_FULL = "53100"  # SQLSTATE disk_full

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which has no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as integer micro-units (see ``smsgate.kit.money``)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_units(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_units(value)


def _sqlite_pragmas(busy_seconds: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's begin event below issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an accepted message survives a power loss; with group commit it costs ~10%.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.close()

    return on_connect


def outage(exc: BaseException) -> Unavailable | None:
    """The answer to a database failure that is no fault of the request: the disk is full,
    or the database is locked, unreachable or restarting. None for any other error.

    The disconnect cases are more than ``OperationalError``: a connection that dies under a
    statement may surface as ``InterfaceError`` or as any ``DBAPIError`` SQLAlchemy marks
    ``connection_invalidated``, and a pool with no connection to give raises its own
    ``TimeoutError``.
    """
    if isinstance(exc, PoolTimeout):
        return Unavailable("no database connection is free; retry shortly")
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    full = (
        getattr(orig, "sqlite_errorname", "") == "SQLITE_FULL"
        or getattr(orig, "sqlstate", None) == _PG_DISK_FULL
    )
    if full:
        return StorageFull("the database's storage is full; nothing was stored, retry later")
    if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
        return Unavailable("the database is busy or unreachable; retry shortly")
    return None


class Database:
    """Engines and session factories for one database URL."""

    def __init__(self, url: str, *, pool_size: int = 8, busy_seconds: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine(url, busy_seconds, immediate=True)
            self.read_engine = self._sqlite_engine(url, busy_seconds, immediate=False)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite has one writer at a time: writers take turns on this lock instead of in
        # SQLite's sleeping busy handler (kit/writelock.py says why).
        self._writer: WriterLock | None = None
        if self.is_sqlite:
            path = make_url(url).database
            self._writer = WriterLock(path if path and path != ":memory:" else None, busy_seconds)

    @staticmethod
    def _sqlite_engine(url: str, busy_seconds: float, *, immediate: bool) -> Engine:
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_seconds}, pool_size=8
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_seconds))
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on error."""
        if self._writer is None:
            with self._write.begin() as session:
                yield session
            return
        with self._writer.held(), self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer is not None:
            self._writer.close()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
