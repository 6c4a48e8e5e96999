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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

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
