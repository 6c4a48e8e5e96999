"""Accepting sends: price, charge and queue a whole batch of requests in one transaction.

This is the hot path. A batch holds every request that arrived while the previous commit
ran (group commit, see ``smsgate.kit.batcher``). For the whole batch it reads each account
and its balance once (locked ``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already holds the database lock), decides each request in arrival order against the running
balance, inserts the messages of the whole batch with one ``INSERT`` and writes one
balance update per account. A request the balance cannot cover is refused as a whole and
charges nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account, AccountStatus
from smsgate.billing.models import Balance, BalanceKind, EntryType, ledger_table
from smsgate.db import Money, UTCDateTime
from smsgate.errors import Conflict, Forbidden, InvalidRequest, PaymentRequired, SmsgateError
from smsgate.inbound.models import OptOut
from smsgate.kit.chunks import batched
from smsgate.kit.fastinsert import FastInsert, reserve_ids
from smsgate.kit.money import format_amount
from smsgate.messaging import bulk, refusals
from smsgate.messaging.models import IdempotencyKey, Sending, messages_table, numbers_table
from smsgate.messaging.prepare import Accepted, AcceptedMessage, PreparedSend
from smsgate.messaging.status import MessageStatus, SendingStatus
from smsgate.numbering import Destinations
from smsgate.pricing.models import PricePlan
from smsgate.pricing.service import RateBook, RateBooks, charge_for
from smsgate.routing.service import RouteTable, RoutingFacts
from smsgate.senders.models import Sender, SenderStatus

Outcome = Accepted | SmsgateError
# Per recipient (rate, price); a sending's by place (messaging/bulk.py).
Priced = list[tuple[Decimal, Decimal]] | bulk.PlacePrices


@dataclass(slots=True)
class _AccountState:
    status: str
    plan_id: int | None
    plan_version: int | None
    tax_rate: Decimal
    balance: Decimal
    floor: Decimal
    charged: Decimal = Decimal(0)


# The hot path uses Core statements on the tables rather than ORM entities: the ORM's
# per-statement bookkeeping cost more than the SQL itself at these batch sizes (profiled,
# docs/benchmarks.md). Built once at import; SQLAlchemy caches their compiled forms.
_accounts = cast(Table, Account.__table__)
_balances = cast(Table, Balance.__table__)
_plans = cast(Table, PricePlan.__table__)
_idempotency = cast(Table, IdempotencyKey.__table__)
_LOAD_ACCOUNTS = (
    select(
        _accounts.c.id,
        _accounts.c.status,
        _accounts.c.price_plan_id,
        _plans.c.version,
        _accounts.c.tax_rate,
        _accounts.c.credit_limit,
        _balances.c.amount,
    )
    .join(
        _balances,
        (_balances.c.account_id == _accounts.c.id) & (_balances.c.kind == BalanceKind.SMS),
    )
    .outerjoin(_plans, _plans.c.id == _accounts.c.price_plan_id)
    .where(_accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_accounts.c.id)  # a fixed lock order: two batches never deadlock
    .with_for_update(of=_balances)  # ignored on SQLite, whose BEGIN IMMEDIATE locks the db
)
_CHARGE_BALANCE = (
    update(_balances)
    .where(_balances.c.account_id == bindparam("account"), _balances.c.kind == BalanceKind.SMS)
    .values(
        amount=_balances.c.amount - bindparam("charged", type_=Money),
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)
_senders = cast(Table, Sender.__table__)
_opt_outs = cast(Table, OptOut.__table__)
_OPTED_OUT = select(_opt_outs.c.account_id, _opt_outs.c.msisdn).where(
    _opt_outs.c.account_id.in_(bindparam("accounts", expanding=True))
)
_APPROVED_SENDERS = select(_senders.c.account_id, _senders.c.name).where(
    _senders.c.status == SenderStatus.APPROVED,
    _senders.c.account_id.in_(bindparam("accounts", expanding=True)),
)


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def find_idempotent(session: Session, account_id: int, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, (account_id, key))


def _load_accounts(session: Session, ids: set[int]) -> dict[int, _AccountState]:
    return {
        account_id: _AccountState(status, plan, version, tax, amount, -credit)
        for account_id, status, plan, version, tax, credit, amount in session.connection().execute(
            _LOAD_ACCOUNTS, {"ids": sorted(ids)}
        )
    }


def _approved_senders(session: Session, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """The approved ones among the batch's (account, sender) pairs. An account has few sender
    names, so reading all of the batch's accounts' approved names is one simple indexed query
    (a row-value IN list cost more to build than to run)."""
    if not pairs:
        return set()
    rows = session.connection().execute(
        _APPROVED_SENDERS, {"accounts": sorted({a for a, _ in pairs})}
    )
    return {(account_id, name) for account_id, name in rows} & pairs


def _opted_out(session: Session, account_ids: set[int]) -> set[tuple[int, str]]:
    """Every (account, number) on the opt-out lists of the batch's accounts: one query.

    Opt-out lists are small per account (numbers that texted STOP, or were added by hand),
    so reading the accounts' whole lists and intersecting in Python is cheaper than sending
    every number of the batch to the database; on an empty table it is one index probe."""
    if not account_ids:
        return set()
    rows = session.connection().execute(_OPTED_OUT, {"accounts": sorted(account_ids)})
    return {(account_id, msisdn) for account_id, msisdn in rows}


def _check_opt_outs(prep: PreparedSend, opted_out: set[tuple[int, str]]) -> None:
    """Refuse the whole request when any recipient opted out, naming them (like invalid
    numbers): a partial send would charge for a different list than the one asked for."""
    account_id = prep.request.account_id
    bad = [d.msisdn for d in prep.destinations if (account_id, d.msisdn) in opted_out]
    if bad:
        raise refusals.opted_out(bad)


def _price(
    prep: PreparedSend, book: RateBook | None, tax_rate: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """(rate, price) per recipient; refuses a destination the plan has no rate for."""
    parts = prep.segments.parts
    priced: list[tuple[Decimal, Decimal]] = []
    cache: dict[tuple[str | None, str | None], tuple[Decimal, Decimal]] = {}
    for dest in prep.destinations:
        key = (dest.mcc, dest.mnc)
        hit = cache.get(key)
        if hit is None:
            rate = book.rate(dest.mcc, dest.mnc) if book else None
            if rate is None:
                raise refusals.no_rate(dest.name, dest.msisdn)
            net, tax = charge_for(parts, rate, tax_rate)
            hit = cache[key] = (rate, net + tax)
        priced.append(hit)
    return priced


def _check_routes(prep: PreparedSend, plan_id: int | None, routes: RouteTable) -> None:
    req = prep.request
    seen: set[tuple[str, str | None, str | None, str]] = set()
    for d in prep.destinations:
        # prefix rules need the number itself; the rest only the network
        key = (d.country, d.mcc, d.mnc, d.msisdn[:6])
        if key in seen:
            continue
        seen.add(key)
        facts = RoutingFacts(
            req.account_id,
            plan_id,
            d.msisdn,
            d.country,
            d.mcc,
            d.mnc,
            req.sender,
            req.requested_type,
        )
        if not routes.routable(facts):
            raise refusals.no_route(d.name, d.msisdn)


def _decide(
    prep: PreparedSend,
    state: _AccountState | None,
    senders: set[tuple[int, str]],
    books: dict[int, RateBook],
    routes: RouteTable,
    opted_out: set[tuple[int, str]],
) -> Priced:
    req = prep.request
    if state is None:
        raise Forbidden("the account does not exist", code="account_missing")
    if state.status != AccountStatus.ACTIVE:
        raise Forbidden("the account is suspended", code="account_suspended")
    if (req.account_id, req.sender) not in senders:
        raise InvalidRequest(
            f"sender {req.sender!r} is not an approved sender of this account",
            field="sender",
            code="sender_not_approved",
        )
    # The sendings path: a sending's recipients checked and priced by place.
    by_place = isinstance(prep.destinations, Destinations) and not req.want_messages
    if opted_out:
        if by_place:
            bulk.check_opt_outs(prep, opted_out)
        else:
            _check_opt_outs(prep, opted_out)
    plan = state.plan_id
    if routes.routes:
        if by_place:
            bulk.check_routes(prep, plan, routes)
        else:
            _check_routes(prep, plan, routes)
    book = books.get(plan) if plan is not None else None
    priced: Priced
    if by_place:
        priced = bulk.price_places(prep, book, state.tax_rate)
        total = priced.total
    else:
        priced = _price(prep, book, state.tax_rate)
        total = sum((p for _, p in priced), Decimal(0))
    if state.balance - state.charged - total < state.floor:
        raise PaymentRequired(
            f"the balance cannot cover this send: it costs {format_amount(total)}, "
            f"available {format_amount(state.balance - state.charged - state.floor)}"
        )
    state.charged += total
    return priced


def accept_batch(
    session: Session,
    batch: Sequence[PreparedSend],
    books: RateBooks,
    *,
    now: datetime,
    validity: timedelta,
    routes: RouteTable | None = None,
) -> list[Outcome]:
    routes = routes or RouteTable()
    states = _load_accounts(session, {p.request.account_id for p in batch})
    senders = _approved_senders(session, {(p.request.account_id, p.request.sender) for p in batch})
    rate_books = books.at_versions(
        session,
        {
            s.plan_id: s.plan_version
            for s in states.values()
            if s.plan_id is not None and s.plan_version is not None
        },
    )
    opted_out = _opted_out(session, set(states))

    decided: list[tuple[PreparedSend, Priced] | SmsgateError] = []
    seen_keys: dict[tuple[int, str], str] = {}
    for prep in batch:
        try:
            claim = prep.request.idempotency
            if claim is not None:
                _check_key(
                    session, prep.request.account_id, claim.key, claim.request_hash, seen_keys
                )
            decided.append(
                (
                    prep,
                    _decide(
                        prep,
                        states.get(prep.request.account_id),
                        senders,
                        rate_books,
                        routes,
                        opted_out,
                    ),
                )
            )
        except SmsgateError as exc:
            decided.append(exc)

    outcomes = _insert_all(session, decided, states, now, validity)
    charges = [
        {"account": account_id, "charged": state.charged, "now": now}
        for account_id, state in states.items()
        if state.charged
    ]
    if charges:
        session.connection().execute(_CHARGE_BALANCE, charges)
    keys = [
        {
            "account_id": prep.request.account_id,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "status_code": 200,
            "response": claim.render(outcome),
            "created_at": now,
        }
        for prep, outcome in zip(batch, outcomes, strict=True)
        if (claim := prep.request.idempotency) is not None and isinstance(outcome, Accepted)
    ]
    if keys:
        session.connection().execute(insert(_idempotency), keys)
    return outcomes


def _check_key(
    session: Session, account_id: int, key: str, request_hash: str, seen: dict[tuple[int, str], str]
) -> None:
    earlier = seen.get((account_id, key))
    if earlier is None:
        row = find_idempotent(session, account_id, key)
        earlier = row.request_hash if row is not None else None
    if earlier is not None:
        # Either a reuse with another body, or a duplicate racing the first request.
        raise Conflict(
            "this Idempotency-Key was already used"
            + ("" if earlier == request_hash else " with a different request body")
        )
    seen[(account_id, key)] = request_hash


def _insert_all(
    session: Session,
    decided: list[tuple[PreparedSend, Priced] | SmsgateError],
    states: dict[int, _AccountState],
    now: datetime,
    validity: timedelta,
) -> list[Outcome]:
    """Insert every accepted request's messages and charges with one statement each."""
    connection = session.connection()
    with_ids: list[tuple[Any, ...]] = []
    plans: list[tuple[PreparedSend, int | None, int, int, MessageStatus, Decimal]] = []
    ledger_rows: list[list[Any]] = []
    running = {account_id: state.balance for account_id, state in states.items()}
    for item in decided:
        if isinstance(item, SmsgateError):
            continue
        prep, priced = item
        req = prep.request
        due = req.scheduled_at if req.scheduled_at and req.scheduled_at > now else now
        status = MessageStatus.SCHEDULED if due > now else MessageStatus.QUEUED
        if isinstance(priced, bulk.PlacePrices):
            total = priced.total
        else:
            total = sum((p for _, p in priced), Decimal(0))
        sending_id = (
            _insert_sending(session, prep, total, due > now, now) if req.as_sending else None
        )
        count = len(prep.destinations)
        if isinstance(priced, bulk.PlacePrices):
            assert sending_id is not None
            plans.append((prep, sending_id, 0, count, status, total))
            bulk.write_messages(connection, prep, priced, sending_id, status, due, now, validity)
        elif req.want_messages or sending_id is None:  # rows with ids, numbers by id
            rows = _message_rows(prep, priced, sending_id, status, due, now, validity)
            plans.append((prep, sending_id, len(with_ids), count, status, total))
            with_ids.extend(rows)
        else:
            # A sending's rows are written in chunks as they are made: a million recipients
            # never exist as a million row tuples at once.
            plans.append((prep, sending_id, 0, count, status, total))
            rows = _message_rows(prep, priced, sending_id, status, due, now, validity)
            for chunk in batched(rows, _CHUNK):
                _MESSAGES.execute(connection, chunk)
            bulk.numbers_of_sending(connection, sending_id)
        running[req.account_id] -= total
        reference = f"sending:{sending_id}" if sending_id else ""
        description = f"{count} message(s), {prep.segments.parts} part(s) each"
        balance_after = running[req.account_id]
        ledger_rows.append(
            [req.account_id, _SMS, _CHARGE, -total, balance_after, reference, description, now]
        )
    ids = reserve_ids(connection, messages_table, len(with_ids))
    _MESSAGES_WITH_IDS.execute(
        connection, [(i, *row) for i, row in zip(ids, with_ids, strict=True)]
    )
    _NUMBERS.execute(
        connection, sorted((row[0], row[_MSISDN], i) for i, row in zip(ids, with_ids, strict=True))
    )

    accepted: list[Accepted] = []
    for (prep, sending_id, offset, count, status, total), entry in zip(
        plans, ledger_rows, strict=True
    ):
        messages: list[AcceptedMessage] = []
        if prep.request.want_messages:
            messages = [
                AcceptedMessage(ids[offset + i], *_reported(row), status)
                for i, row in enumerate(with_ids[offset : offset + count])
            ]
            if count == 1:
                entry[_REFERENCE] = f"message:{messages[0].id}"
        accepted.append(
            Accepted(
                sending_id,
                count,
                prep.segments.parts * count,
                total,
                entry[_BALANCE_AFTER],
                status,
                now,
                messages,
            )
        )
    _LEDGER.execute(connection, ledger_rows)
    it = iter(accepted)
    return [item if isinstance(item, SmsgateError) else next(it) for item in decided]


def _insert_sending(
    session: Session, prep: PreparedSend, total: Decimal, later: bool, now: datetime
) -> int:
    req = prep.request
    return session.execute(
        insert(Sending)
        .values(
            account_id=req.account_id,
            text=req.text,
            sender=req.sender,
            status=SendingStatus.SCHEDULED if later else SendingStatus.QUEUED,
            requested_type=req.requested_type,
            surface=req.surface,
            recipients=len(prep.destinations),
            parts=prep.segments.parts * len(prep.destinations),
            price=total,
            scheduled_at=req.scheduled_at,
            created_at=now,
            updated_at=now,
        )
        .returning(Sending.id)
    ).scalar_one()


# Column orders of the rows the send path writes (see smsgate.kit.fastinsert).
_MESSAGE_COLUMNS = bulk.MESSAGE_COLUMNS
_FIRST_OWN = _MESSAGE_COLUMNS.index("request_id")  # the columns after it differ per recipient
_MSISDN = _MESSAGE_COLUMNS.index("msisdn")
_CHUNK = 20_000  # rows per executemany of a sending
_MESSAGES = FastInsert(messages_table, _MESSAGE_COLUMNS)
_MESSAGES_WITH_IDS = FastInsert(messages_table, ("id", *_MESSAGE_COLUMNS))
_NUMBERS = FastInsert(numbers_table, ("account_id", "msisdn", "message_id"))
_LEDGER_COLUMNS = (
    "account_id",
    "kind",
    "entry_type",
    "amount",
    "balance_after",
    "reference",
    "description",
    "created_at",
)
_LEDGER = FastInsert(ledger_table, _LEDGER_COLUMNS)
_REFERENCE = _LEDGER_COLUMNS.index("reference")
_BALANCE_AFTER = _LEDGER_COLUMNS.index("balance_after")
_SMS = BalanceKind.SMS.value
_CHARGE = EntryType.CHARGE.value


def _reported(row: tuple[Any, ...]) -> tuple[str, str, str, int, Decimal]:
    """request id, number, destination, parts and price of a message row, as answered."""
    own = row[_FIRST_OWN:]
    return own[0], own[1], own[2], row[6], own[7]


def _message_rows(
    prep: PreparedSend,
    priced: list[tuple[Decimal, Decimal]],
    sending_id: int | None,
    status: MessageStatus,
    due: datetime,
    now: datetime,
    validity: timedelta,
) -> Iterator[tuple[Any, ...]]:
    req = prep.request
    common = (
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
    )
    return (
        (
            *common,
            str(uuid.uuid4()),
            d.msisdn,
            d.name,
            d.country,
            d.mcc,
            d.mnc,
            rate,
            price,
        )
        for d, (rate, price) in zip(prep.destinations, priced, strict=True)
    )
