"""Price plans, rate cards and quotes.

A rate is the price of one SMS part to a network (MCC + MNC), with a country default where
MNC is NULL. Each process keeps a ``RateBook`` per plan in memory and reloads it when the
plan's ``version`` changes, so pricing a 1,000,000-recipient sending costs no queries per
recipient.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from smsgate.errors import InvalidRequest
from smsgate.kit.money import InvalidAmount, parse_amount, round_money
from smsgate.kit.text import storable
from smsgate.kit.time import utcnow
from smsgate.pricing.models import PricePlan, Rate

CSV_COLUMNS = ("mcc", "mnc", "country", "network", "price")
NAME_LENGTH = 100  # rates.country and rates.network
# A rate for mcc "*" prices every destination the plan has no other rate for (a flat plan).
ANY_MCC = "*"


@dataclass(frozen=True, slots=True)
class RateRow:
    mcc: str
    mnc: str | None
    country: str
    network: str
    price: Decimal


class RateFileError(InvalidRequest):
    code = "invalid_rate_file"


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone takes "²" and "２"


def parse_rate_csv(text: str) -> Iterator[RateRow]:
    """Parse a rate card, raising ``RateFileError`` naming the first bad line."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = tuple(h.strip().lower() for h in reader.fieldnames or ())
    except csv.Error as exc:
        raise RateFileError(f"line 1: {exc}") from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise RateFileError(f"line 1: the header lacks the column(s) {', '.join(missing)}")
    reader.fieldnames = list(header)
    seen: set[tuple[str, str | None]] = set()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the size limit (DictReader.line_num lags)
            raise RateFileError(f"line {reader.reader.line_num}: {exc}") from None
        line = reader.line_num
        if None in row:  # DictReader's key for cells past the header's
            raise RateFileError(
                f"line {line}: more cells than the header has columns"
                " (a decimal comma in a price? write 0.04, not 0,04)"
            )
        mcc = (row.get("mcc") or "").strip()
        mnc = (row.get("mnc") or "").strip() or None
        if not (len(mcc) == 3 and _ascii_digits(mcc)) and mcc != ANY_MCC:
            raise RateFileError(f"line {line}: mcc {mcc!r} is not three digits (or * for any)")
        if mcc == ANY_MCC and mnc is not None:
            raise RateFileError(f"line {line}: the catch-all mcc * takes no mnc")
        if mnc is not None and not (2 <= len(mnc) <= 3 and _ascii_digits(mnc)):
            raise RateFileError(f"line {line}: mnc {mnc!r} is not two or three digits")
        try:
            price = parse_amount(row.get("price"))
        except InvalidAmount as exc:
            raise RateFileError(
                f"line {line}: price {row.get('price')!r} is not an amount"
            ) from exc
        if (mcc, mnc) in seen:
            raise RateFileError(
                f"line {line}: a second rate for mcc {mcc} mnc {mnc or '(default)'}"
            )
        seen.add((mcc, mnc))
        country, network = (row.get("country") or "").strip(), (row.get("network") or "").strip()
        for column, value in (("country", country), ("network", network)):
            if len(value) > NAME_LENGTH or not storable(value):
                raise RateFileError(
                    f"line {line}: {column} must be text of at most {NAME_LENGTH} characters"
                    " (no NUL)"
                )
        yield RateRow(mcc, mnc, country, network, price)


def get_or_create_plan(session: Session, name: str) -> PricePlan:
    name = name.strip()  # looked up as it is stored, or " p " would be created twice
    plan = session.scalar(select(PricePlan).where(PricePlan.name == name))
    if plan is None:
        if not name:
            raise InvalidRequest("the price plan needs a name", field="name")
        plan = PricePlan(name=name)
        session.add(plan)
        session.flush()
    return plan


def replace_rates(
    session: Session,
    name: str,
    rows: Iterable[RateRow],
    progress: Callable[[int], None] | None = None,
    chunk: int = 5000,
) -> PricePlan:
    """Replace every rate of the plan ``name`` (created if new) in this transaction."""
    plan = get_or_create_plan(session, name)
    session.execute(delete(Rate).where(Rate.plan_id == plan.id))
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(
            {
                "plan_id": plan.id,
                "mcc": row.mcc,
                "mnc": row.mnc,
                "country": row.country,
                "network": row.network,
                "price": row.price,
            }
        )
        if len(batch) >= chunk:
            session.execute(insert(Rate), batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        session.execute(insert(Rate), batch)
        if progress:
            progress(len(batch))
    session.execute(
        update(PricePlan)
        .where(PricePlan.id == plan.id)
        .values(version=PricePlan.version + 1, updated_at=utcnow())
    )
    session.flush()
    return plan


@dataclass(slots=True)
class RateBook:
    """One plan's rates in memory."""

    plan_id: int
    version: int
    by_network: dict[tuple[str, str | None], Decimal] = field(default_factory=dict)

    def rate(self, mcc: str | None, mnc: str | None) -> Decimal | None:
        """The network's rate, else the country's default, else the plan's catch-all."""
        price = None
        if mcc is not None:
            if mnc is not None:
                price = self.by_network.get((mcc, mnc))
            if price is None:
                price = self.by_network.get((mcc, None))
        return price if price is not None else self.by_network.get((ANY_MCC, None))


def database_key(session: Session) -> str:
    """Which database a session talks to: plan ids and versions repeat across databases."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


class RateBooks:
    """A per-process cache of rate books, checked against plan versions on each use and
    keyed by database as well as plan (one process may serve several databases in tests)."""

    def __init__(self) -> None:
        self._books: dict[tuple[str, int], RateBook] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, plan_ids: Iterable[int]) -> dict[int, RateBook]:
        ids = set(plan_ids)
        if not ids:
            return {}
        versions = dict(
            session.execute(
                select(PricePlan.id, PricePlan.version).where(PricePlan.id.in_(ids))
            ).all()
        )
        return self.at_versions(session, versions)

    def at_versions(self, session: Session, versions: Mapping[int, int]) -> dict[int, RateBook]:
        """The books of plans whose current versions the caller has just read (the send path
        reads them with the accounts, saving a query per batch)."""
        out: dict[int, RateBook] = {}
        db = database_key(session)
        for plan_id, version in versions.items():
            with self._lock:
                book = self._books.get((db, plan_id))
            if book is None or book.version != version:
                book = self._load(session, plan_id, version)
                with self._lock:
                    self._books[(db, plan_id)] = book
            out[plan_id] = book
        return out

    def peek(self, db: str, plan_id: int) -> RateBook | None:
        """The cached book, without checking its version (for hot loops off the db thread)."""
        with self._lock:
            return self._books.get((db, plan_id))

    @staticmethod
    def _load(session: Session, plan_id: int, version: int) -> RateBook:
        book = RateBook(plan_id, version)
        for mcc, mnc, price in session.execute(
            select(Rate.mcc, Rate.mnc, Rate.price).where(Rate.plan_id == plan_id)
        ):
            book.by_network[(mcc, mnc)] = price
        return book


rate_books = RateBooks()


def charge_for(parts: int, rate: Decimal, tax_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(net, tax) for one message; the price charged is their sum."""
    net = round_money(rate * parts)
    return net, round_money(net * tax_rate)


def list_rates(
    session: Session,
    plan_id: int | None,
    *,
    mcc: str | None = None,
    mnc: str | None = None,
    mnc_null: bool = False,
    country: str | None = None,
) -> list[Rate]:
    if plan_id is None:
        return []
    query = select(Rate).where(Rate.plan_id == plan_id)
    if mcc is not None:
        query = query.where(Rate.mcc == mcc)
    if mnc_null:
        query = query.where(Rate.mnc.is_(None))
    elif mnc is not None:
        query = query.where(Rate.mnc == mnc)
    if country:
        query = query.where(Rate.country.ilike(f"%{country}%"))
    # the country default (NULL mnc) first on both databases (PostgreSQL sorts NULLs last)
    return list(session.scalars(query.order_by(Rate.mcc, Rate.mnc.nulls_first(), Rate.id)))
