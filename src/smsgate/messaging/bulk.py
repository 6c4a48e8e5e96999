"""The sendings path of acceptance: a million recipients checked, priced and written by place.

A sending's recipients arrive resolved as ``numbering.Destinations``: each number's digits
and the index of its place (country and network), shared by every number of that network.
Everything that depends only on the network is done once per place here (the rate, the
price with its tax, the values written to the row), and the per-recipient work is one
request id and one row of the few values that differ (``accept`` calls these for requests
made with ``as_sending``; single sends keep their own path there).

Rows are written in recipient order: on SQLite by ``INSERT ... SELECT`` from a JSON array
of the numbers (``_write_sqlite``), on PostgreSQL by ``COPY``, each row one text line of
which only the request id's counter and the number are rendered per recipient.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import structlog
from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.exc import DBAPIError

from smsgate.kit.fastinsert import bind_value, copy_field, copy_rows, driver_errors, reserve_ids
from smsgate.messaging import refusals
from smsgate.messaging.models import messages_table, numbers_table
from smsgate.messaging.prepare import PreparedSend
from smsgate.messaging.status import MessageStatus
from smsgate.numbering import Destinations
from smsgate.pricing.service import RateBook, charge_for
from smsgate.routing.service import RouteTable, RoutingFacts

log = structlog.get_logger(__name__)

__all__ = [
    "PlacePrices",
    "check_opt_outs",
    "check_routes",
    "price_places",
    "request_ids",
    "write_messages",
]


@dataclass(frozen=True, slots=True)
class PlacePrices:
    """The rate and the price (with tax) of one message to each place, and the total."""

    rates: list[Decimal]
    prices: list[Decimal]
    total: Decimal


def _destinations(prep: PreparedSend) -> Destinations:
    destinations = prep.destinations
    assert isinstance(destinations, Destinations)
    return destinations


def check_opt_outs(prep: PreparedSend, opted_out: set[tuple[int, str]]) -> None:
    """As ``accept._check_opt_outs``: the whole request is refused, naming the numbers."""
    account_id = prep.request.account_id
    mine = {msisdn for account, msisdn in opted_out if account == account_id}
    if not mine:
        return
    bad = [m for m in _destinations(prep).msisdns if m in mine]
    if bad:
        raise refusals.opted_out(bad)


def check_routes(prep: PreparedSend, plan_id: int | None, routes: RouteTable) -> None:
    """As ``accept._check_routes``: the same numbers asked, in the same order."""
    req = prep.request
    destinations = _destinations(prep)
    places = destinations.places
    networks = [(p.country, p.mcc, p.mnc) for p in places]
    seen: set[tuple[tuple[str, str | None, str | None], str]] = set()
    for msisdn, kind in zip(destinations.msisdns, destinations.kinds, strict=True):
        # prefix rules need the number itself; the rest only the network
        key = (networks[kind], msisdn[:6])
        if key in seen:
            continue
        seen.add(key)
        place = places[kind]
        facts = RoutingFacts(
            req.account_id,
            plan_id,
            msisdn,
            place.country,
            place.mcc,
            place.mnc,
            req.sender,
            req.requested_type,
        )
        if not routes.routable(facts):
            raise refusals.no_route(place_name(destinations, kind), msisdn)


def price_places(prep: PreparedSend, book: RateBook | None, tax_rate: Decimal) -> PlacePrices:
    """As ``accept._price``, once per place: the same rates, prices and total (Decimal sums
    are exact, so a place's count times its price is the sum of its messages' prices), and
    the same refusal, naming the first recipient without a rate."""
    destinations = _destinations(prep)
    parts = prep.segments.parts
    rates: list[Decimal] = []
    prices: list[Decimal] = []
    for kind, place in enumerate(destinations.places):
        rate = book.rate(place.mcc, place.mnc) if book else None
        if rate is None:
            # Places are numbered in order of first appearance, so the first recipient
            # without a rate is the first of the first place without one.
            first = destinations[destinations.kinds.index(kind)]
            raise refusals.no_rate(first.name, first.msisdn)
        net, tax = charge_for(parts, rate, tax_rate)
        rates.append(rate)
        prices.append(net + tax)
    counts = Counter(destinations.kinds)
    total = sum((prices[kind] * count for kind, count in counts.items()), Decimal(0))
    return PlacePrices(rates, prices, total)


_SHARED = (
    "account_id",
    "sending_id",
    "surface",
    "sender",
    "text",
    "encoding",
    "parts",
    "status",
    "requested_type",
    "callback_url",
    "created_at",
    "updated_at",
    "scheduled_at",
    "next_attempt_at",
    "valid_until",
    "attempts",
    "refunded",
)
# The columns after the request id and the number: the same for every number of a place.
_PLACE = ("destination", "country", "mcc", "mnc", "rate", "price")
# The column order of every message row the send path writes (``accept`` too).
MESSAGE_COLUMNS = (*_SHARED, "request_id", "msisdn", *_PLACE)
_COLUMNS = MESSAGE_COLUMNS
_CHUNK = 20_000  # numbers per statement (SQLite)
_MARK = 0x100  # a number's place index, as the code point of a character before it
_CACHE_KB = 65_536  # SQLite's page cache while a sending is written (docs/benchmarks.md)


def write_messages(
    connection: Connection,
    prep: PreparedSend,
    prices: PlacePrices,
    sending_id: int,
    status: MessageStatus,
    due: datetime,
    now: datetime,
    validity: timedelta,
) -> None:
    """Insert the sending's messages, in recipient order, and their ``message_numbers``:
    the rows ``accept._message_rows`` makes, but for the request ids (``request_ids``)."""
    req = prep.request
    destinations = _destinations(prep)
    dialect = connection.dialect
    shared = [
        bind_value(messages_table, name, value, dialect)
        for name, value in zip(
            _SHARED,
            (
                req.account_id,
                sending_id,
                req.surface,
                req.sender,
                req.text,
                prep.segments.encoding.value,
                prep.segments.parts,
                status.value,
                req.requested_type,
                req.callback_url,
                now,
                now,
                req.scheduled_at,
                due,
                due + validity,
                0,
                False,
            ),
            strict=True,
        )
    ]
    # What follows the number in a row, per place, converted for the driver once.
    places = [
        [
            bind_value(messages_table, name, value, dialect)
            for name, value in zip(
                _PLACE,
                (
                    place_name(destinations, kind),
                    place.country,
                    place.mcc,
                    place.mnc,
                    prices.rates[kind],
                    prices.prices[kind],
                ),
                strict=True,
            )
        ]
        for kind, place in enumerate(destinations.places)
    ]
    prefix, start = _request_id_prefix(now)
    if dialect.name == "postgresql":
        head = "\t".join(copy_field(v) for v in shared) + "\t" + prefix
        tails = ["\t".join(copy_field(v) for v in place) for place in places]
        lines = (
            f"{head}{n:012x}\t{msisdn}\t{tails[kind]}"
            for n, msisdn, kind in zip(
                range(start, start + len(destinations)),
                destinations.msisdns,
                destinations.kinds,
                strict=True,
            )
        )
        copy_rows(connection, messages_table, _COLUMNS, lines)
        numbers_of_sending(connection, sending_id)
    elif _has_json(connection):
        # The rowids SQLite gives these rows (reserve_ids): max(id) + 1 onwards.
        ids = reserve_ids(connection, messages_table, len(destinations))
        _write_sqlite(connection, destinations, shared, places, prefix, start)
        _write_numbers_sqlite(connection, req.account_id, sending_id, ids, destinations.msisdns)
    else:  # pragma: no cover - an SQLite built without JSON
        rows = (
            (*shared, f"{prefix}{n:012x}", msisdn, *places[kind])
            for n, msisdn, kind in zip(
                range(start, start + len(destinations)),
                destinations.msisdns,
                destinations.kinds,
                strict=True,
            )
        )
        _sqlite_executemany(connection, rows)
        numbers_of_sending(connection, sending_id)


def _request_id_prefix(now: datetime) -> tuple[str, int]:
    """The first 24 characters of a sending's request ids and the counter's start (below)."""
    ms = int(now.timestamp() * 1000) & (2**48 - 1)
    rand_a = int.from_bytes(os.urandom(2)) & 0xFFF
    rand_b = int.from_bytes(os.urandom(2)) & 0x3FFF
    start = int.from_bytes(os.urandom(6)) >> 2  # below 2**46: room for 10**7 * 7000 rows
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand_a:03x}-{0x8000 | rand_b:04x}-", start


def request_ids(count: int, now: datetime) -> list[str]:
    """``count`` request ids as ``write_messages`` makes them (for tests): UUIDs of version 7
    (RFC 9562) whose 48-bit timestamp is ``now`` and whose last 48 bits count up from a
    random start.

    Unique as uuid4's for all practical purposes (26 random bits and a random 46-bit start
    per sending, besides the millisecond; ``uq_messages_request_id`` would refuse a
    repeat), but each made by adding one, not by a system call for 16 random bytes
    (``uuid.uuid4`` cost more than resolving the number), and ascending, so that the
    unique index grows at its end instead of at a random place per row."""
    prefix, start = _request_id_prefix(now)
    return [f"{prefix}{n:012x}" for n in range(start, start + count)]


_json_support: dict[str, bool] = {}


def _has_json(connection: Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in since 3.38, usual before)."""
    version = connection.dialect.dbapi.sqlite_version  # type: ignore[union-attr]
    known = _json_support.get(version)
    if known is None:
        try:
            connection.exec_driver_sql("SELECT count(*) FROM json_each('[1]')").scalar()
            known = True
        except DBAPIError:  # pragma: no cover - an SQLite built without JSON
            known = False
        _json_support[version] = known
    return known


_PLACES_TABLE = "smsgate_sending_places"


def _write_sqlite(
    connection: Connection,
    destinations: Destinations,
    shared: list[Any],
    places: list[list[Any]],
    prefix: str,
    start: int,
) -> None:
    """SQLite: one ``INSERT ... SELECT`` per 20,000 numbers, each a JSON array of strings,
    a number's place written as one character before it (``chr(0x100 + place)``). SQLite
    makes the rows in C from the array, the sending's shared values (bound once per
    statement) and a temporary table of the places, and computes the request ids from
    ``prefix`` and the element's index: no per-row binding in Python, about half the CPU
    of an ``executemany`` of the same rows (docs/benchmarks.md). ``CROSS JOIN`` keeps the
    array as the outer loop, so rows are made in array order, that is recipient order."""
    if len(places) >= 0xD800 - _MARK:  # pragma: no cover - the marks stay below surrogates
        raise ValueError("too many places in one sending")
    quote = connection.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in _COLUMNS)
    place_names = ", ".join(_PLACE)
    placeholders = ", ".join("?" * len(_SHARED))
    # Names come from the table's metadata, quoted by the dialect; values are all bound.
    insert = (
        f"INSERT INTO {quote.format_table(messages_table)} ({names}) "  # noqa: S608
        f"SELECT {placeholders}, ? || printf('%012x', ? + j.key), substr(j.value, 2), "
        f"{', '.join('p.' + name for name in _PLACE)} "
        f"FROM json_each(?) AS j CROSS JOIN temp.{_PLACES_TABLE} AS p "
        f"ON p.kind = unicode(j.value) - {_MARK}"
    )
    with driver_errors(connection, insert) as cursor:
        # A larger page cache for this statement's connection while it writes: the default
        # 2 MB spills the indexes' pages to the WAL and reads them back over and over.
        cache = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size=-{_CACHE_KB}")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_PLACES_TABLE} "
            f"(kind INTEGER PRIMARY KEY, {place_names})"
        )
        cursor.execute(f"DELETE FROM temp.{_PLACES_TABLE}")  # noqa: S608
        cursor.executemany(
            f"INSERT INTO temp.{_PLACES_TABLE} VALUES (?, {', '.join('?' * len(_PLACE))})",  # noqa: S608
            [(kind, *values) for kind, values in enumerate(places)],
        )
        marks = [chr(_MARK + kind) for kind in range(len(places))]
        msisdns, kinds = destinations.msisdns, destinations.kinds
        encode = msgspec.json.encode
        for offset in range(0, len(msisdns), _CHUNK):
            end = offset + _CHUNK
            numbers = encode(
                [
                    marks[kind] + msisdn
                    for msisdn, kind in zip(msisdns[offset:end], kinds[offset:end], strict=True)
                ]
            ).decode()
            cursor.execute(insert, (*shared, prefix, start + offset, numbers))
        cursor.execute(f"DELETE FROM temp.{_PLACES_TABLE}")  # noqa: S608
        cursor.execute(f"PRAGMA cache_size={int(cache)}")
        _checkpoint_later(connection, cursor)


def _write_numbers_sqlite(
    connection: Connection, account_id: int, sending_id: int, ids: Sequence[int], msisdns: list[str]
) -> None:
    """The sending's ``message_numbers`` in the table's order, from the numbers in memory:
    the message of ``msisdns[i]`` has id ``ids[i]`` (the writer lock, held since before the
    first row, keeps them free), so the rows are not read back. Sorted here and written in
    chunks: a sort by SQLite of one array of all numbers cost 60 MB more. Should the rows
    have got other ids after all, the numbers are read from them instead."""
    if not ids or reserve_ids(connection, messages_table, 1)[0] != ids[-1] + 1:
        numbers_of_sending(connection, sending_id)
        return
    first = ids[0]
    order = sorted(range(len(msisdns)), key=msisdns.__getitem__)
    sql = (
        f"INSERT INTO {numbers_table.name} (account_id, msisdn, message_id) "  # noqa: S608
        "SELECT ?, json_extract(j.value, '$[0]'), ? + json_extract(j.value, '$[1]') "
        "FROM json_each(?) AS j"
    )
    encode = msgspec.json.encode
    with driver_errors(connection, sql) as cursor:
        for offset in range(0, len(order), _CHUNK):
            pairs = [(msisdns[i], i) for i in order[offset : offset + _CHUNK]]
            cursor.execute(sql, (account_id, first, encode(pairs).decode()))


def numbers_of_sending(connection: Connection, sending_id: int) -> None:
    """A sending's ``message_numbers``, in the table's order, from its rows."""
    connection.execute(_NUMBERS_OF_SENDING, {"b_sending": sending_id})


_NUMBERS_OF_SENDING = numbers_table.insert().from_select(
    ["account_id", "msisdn", "message_id"],
    select(messages_table.c.account_id, messages_table.c.msisdn, messages_table.c.id)
    .where(messages_table.c.sending_id == bindparam("b_sending"))
    .order_by(messages_table.c.account_id, messages_table.c.msisdn, messages_table.c.id),
)


def _checkpoint_later(connection: Connection, cursor: Any) -> None:
    """Keep the checkpoint of this sending's WAL frames off its answer.

    With the default ``wal_autocheckpoint`` the commit of a million rows copies the 400 MB
    of WAL it wrote into the database file and syncs it before returning (1-2 s). The rows
    are as durable once the WAL is synced, so this connection's automatic checkpoint is
    turned off for this commit and, when the connection comes back to the pool after it,
    turned on again while a thread runs a passive checkpoint on another connection
    (readers and writers go on meanwhile; a writer whose commit comes first checkpoints
    as before)."""
    cursor.execute("PRAGMA wal_autocheckpoint")
    (previous,) = cursor.fetchone()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    connection.connection.info[_CHECKPOINT] = int(previous)
    engine = connection.engine
    if not event.contains(engine, "checkin", _checked_in):
        event.listen(engine, "checkin", _checked_in)


_CHECKPOINT = "smsgate_checkpoint_after_commit"


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    previous = record.info.pop(_CHECKPOINT, None) if record is not None else None
    if previous is None:
        return
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(previous)}")
    database = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
    threading.Thread(target=_checkpoint, args=(database,), name="checkpoint", daemon=True).start()


def _checkpoint(path: str) -> None:
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as raw:
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as error:  # the next commit's automatic checkpoint does it then
        log.warning("checkpoint after a sending failed", error=str(error))


def _sqlite_executemany(connection: Connection, rows: Iterator[tuple[Any, ...]]) -> None:
    quote = connection.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in _COLUMNS)
    marks = ", ".join("?" * len(_COLUMNS))
    sql = f"INSERT INTO {quote.format_table(messages_table)} ({names}) VALUES ({marks})"  # noqa: S608
    with driver_errors(connection, sql) as cursor:
        cursor.executemany(sql, rows)


def place_name(destinations: Destinations, kind: int) -> str:
    """The destination name (``Destination.name``) of every number of place ``kind``."""
    place = destinations.places[kind]
    return place.country_name if place.network is None else f"{place.country_name} {place.network}"
