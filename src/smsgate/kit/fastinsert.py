"""Many rows into one table straight through the DB-API's ``executemany``.

SQLAlchemy's executemany builds a parameter dictionary per row and runs every value through
its general execution machinery; on the send path that cost several times what SQLite's or
psycopg's own ``executemany`` costs (profiled, docs/benchmarks.md). Here rows are tuples in
a fixed column order and each value still goes through its column type's own bind processor
(``Money`` to micro-units, UTC datetimes, booleans), so what lands in the database is what
the ORM would have written. Written by hand because SQLAlchemy offers no lighter public
path for bulk inserts of typed rows.

Ids: SQLite and psycopg cannot return ids from ``executemany``, so a caller that needs them
reserves them first (``reserve_ids``) and inserts them explicitly.

For a million rows (the messages of one sending, ``messaging/bulk.py``): ``bind_value``
converts a value once for many rows, ``copy_rows`` sends rows to PostgreSQL through
``COPY ... FROM STDIN`` (psycopg 3's ``cursor.copy()``) as text lines (``copy_field``), and
``driver_errors`` runs a DB-API cursor whose errors come out as SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from smsgate.kit.chunks import batched

Processor = Callable[[Any], Any]


class FastInsert:
    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        unknown = [name for name in columns if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no columns {unknown}")
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, tuple[str, list[tuple[int, Processor]]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, list[tuple[int, Processor]]]:
        hit = self._compiled.get(dialect.name)
        if hit is None:
            quote = dialect.identifier_preparer
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            names = ", ".join(quote.quote(name) for name in self.columns)
            marks = ", ".join([mark] * len(self.columns))
            # Names come from the table's metadata, quoted by the dialect; values are bound.
            sql = f"INSERT INTO {quote.format_table(self.table)} ({names}) VALUES ({marks})"  # noqa: S608
            processors: list[tuple[int, Processor]] = []
            for i, name in enumerate(self.columns):
                column_type = self.table.c[name].type.dialect_impl(dialect)
                processor = column_type.bind_processor(dialect)
                if processor is not None:
                    processors.append((i, processor))
            hit = self._compiled[dialect.name] = (sql, processors)
        return hit

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        sql, processors = self._compile(connection.dialect)
        # Rows of one batch repeat most values (one timestamp, a few prices), so each
        # column's conversions are remembered for the call: a dictionary hit costs a tenth
        # of formatting a datetime again.
        memos: list[tuple[int, Processor, dict[Any, Any]]] = [(i, p, {}) for i, p in processors]
        params: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for i, process, memo in memos:
                value = values[i]
                try:
                    values[i] = memo[value]
                except KeyError:
                    values[i] = memo[value] = process(value)
            params.append(tuple(values))
        connection.exec_driver_sql(sql, params)


def reserve_ids(connection: Connection, table: Table, count: int) -> range | list[int]:
    """``count`` fresh ids for ``table``'s integer primary key, in ascending order.

    PostgreSQL: drawn from the column's sequence, so concurrent transactions never collide.
    SQLite: the write transaction holds the database lock (``BEGIN IMMEDIATE``), so the ids
    after the current maximum stay free until it commits; that is also how SQLite picks
    rowids for a table without AUTOINCREMENT."""
    if count <= 0:
        return []
    (pk,) = table.primary_key.columns
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            (table.name, pk.name, count),
        )
        return sorted(row[0] for row in rows)
    quote = connection.dialect.identifier_preparer
    top = connection.exec_driver_sql(
        f"SELECT max({quote.quote(pk.name)}) FROM {quote.format_table(table)}"  # noqa: S608
    ).scalar()
    start = int(top or 0) + 1
    return range(start, start + count)


def bind_value(table: Table, column: str, value: Any, dialect: Dialect) -> Any:
    """``value`` as the column's bind processor hands it to the driver."""
    processor = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return value if processor is None else processor(value)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: Any) -> str:
    """A driver-ready value as a field of PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).translate(_COPY_ESCAPES)


def copy_rows(
    connection: Connection, table: Table, columns: Sequence[str], lines: Iterable[str]
) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` of ``lines``, each one row in COPY's
    text format without its newline (``copy_field`` renders a value), sent in chunks."""
    quote = connection.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    with driver_errors(connection, sql) as cursor, cursor.copy(sql) as copy:
        for chunk in batched(lines, _COPY_LINES):
            copy.write("\n".join(chunk) + "\n")


_COPY_LINES = 20_000  # rows per write to the COPY stream


@contextmanager
def driver_errors(connection: Connection, sql: str) -> Iterator[Any]:
    """A DB-API cursor of ``connection`` whose errors come out as SQLAlchemy's, as if the
    statement had run through ``exec_driver_sql`` (``db.outage`` reads those), and a
    connection lost on the way is invalidated."""
    dialect = connection.dialect
    raw = connection.connection
    cursor = raw.cursor()
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, raw.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from error
    finally:
        if not connection.invalidated:
            cursor.close()
