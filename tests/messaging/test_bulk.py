"""The sendings path (messaging/bulk.py) writes and refuses exactly what the per-recipient
path does, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.errors import SmsgateError
from smsgate.inbound.service import add_opt_out
from smsgate.messaging import bulk
from smsgate.messaging.models import Message, Sending, messages_table, numbers_table
from smsgate.messaging.prepare import Accepted, SendRequest
from smsgate.messaging.service import SendService
from smsgate.numbering import Destinations
from smsgate.routing.service import add_route
from tests.support.factories import make_customer

# LMT, Tele2, Bite (priced at Latvia's default), Belarus, Denmark, Russia without a network,
# Uzbekistan; a formatted and a 00-prefixed one (the reference path), a repeat, a 1-digit
# and a 3-digit calling code; more than one place appears before the last new one.
RECIPIENTS = [
    "+37126123456",
    "+37129990001",
    "+37125123456",
    "+375291234567",
    "+4520123456",
    "+79123456789",
    "371 2612 3457",
    "+998901234567",
    "0037129990002",
    "+37126123456",
]
# Columns that differ between two sends by construction.
_OWN = {"id", "request_id", "sending_id", "created_at", "updated_at", "next_attempt_at"}
_OWN |= {"valid_until"}


def _send(db: Database, settings: Settings, account_id: int, sender: str, **kw: Any) -> Accepted:
    fields: dict[str, Any] = {
        "recipients": RECIPIENTS,
        "text": "Hello ☺ everyone",  # UCS-2, one part
        "sender": sender,
    }
    fields.update(kw)
    return SendService(db, settings).send_now(SendRequest(account_id=account_id, **fields))


def _rows(db: Database, **where: Any) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.execute(
            select(messages_table).filter_by(**where).order_by(messages_table.c.id)
        ).mappings()
        return [{k: v for k, v in row.items() if k not in _OWN} for row in rows]


def _assert_numbers_index_every_message(db: Database) -> None:
    """``message_numbers`` holds exactly one row per message (written by each path, and
    rolled back with a refused send)."""
    m = messages_table
    with db.read() as session:
        wanted = session.execute(select(m.c.account_id, m.c.msisdn, m.c.id)).all()
        numbers = session.execute(select(numbers_table)).all()
    assert sorted(numbers) == sorted(wanted) and len(numbers) == len(set(numbers))


def _outcome(db: Database, settings: Settings, account_id: int, sender: str, **kw: Any) -> str:
    try:
        _send(db, settings, account_id, sender, **kw)
    except SmsgateError as error:
        return f"{type(error).__name__}: {error}"
    return "accepted"


def test_a_sending_writes_the_rows_single_sends_write(
    db: Database, settings: Settings, plan: str
) -> None:
    customer = make_customer(db, balance=Decimal(100), tax_rate=Decimal("0.21"))
    one = _send(db, settings, customer.account_id, customer.sender)
    many = _send(
        db, settings, customer.account_id, customer.sender, as_sending=True, want_messages=False
    )
    assert many.sending_id is not None
    assert (many.count, many.parts, many.total) == (one.count, one.parts, one.total)
    singles = _rows(db, sending_id=None)
    sending = _rows(db, sending_id=many.sending_id)
    assert len(sending) == len(RECIPIENTS)
    assert sending == singles  # in recipient order, every value alike
    with db.read() as session:
        ids = session.scalars(
            select(Message.request_id)
            .where(Message.sending_id == many.sending_id)
            .order_by(Message.id)
        ).all()
        row = session.get(Sending, many.sending_id)
        assert row is not None and row.price == one.total
        charges = session.scalars(
            select(LedgerEntry.amount).where(LedgerEntry.entry_type == EntryType.CHARGE)
        ).all()
    assert charges == [-one.total, -one.total]
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    _assert_numbers_index_every_message(db)


def test_a_scheduled_sending_writes_the_rows_single_sends_write(
    db: Database, settings: Settings, plan: str
) -> None:
    customer = make_customer(db, balance=Decimal(100))
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    callback = "https://example.com/hook"
    kw: dict[str, Any] = {"scheduled_at": later, "callback_url": callback, "text": "x" * 200}
    _send(db, settings, customer.account_id, customer.sender, **kw)
    many = _send(
        db,
        settings,
        customer.account_id,
        customer.sender,
        as_sending=True,
        want_messages=False,
        **kw,
    )
    sending = _rows(db, sending_id=many.sending_id)
    assert sending == _rows(db, sending_id=None)
    assert {r["status"] for r in sending} == {"scheduled"} and sending[0]["parts"] == 2
    _assert_numbers_index_every_message(db)


def test_refusals_are_the_same(db: Database, settings: Settings) -> None:
    from tests.support.factories import make_plan

    make_plan(db, "latvia", "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n")
    poor = make_customer(db, balance=Decimal("0.1"), plan="latvia", name="Poor")
    rich = make_customer(db, balance=Decimal(100), plan="latvia", name="Rich")
    bulk_kw: dict[str, Any] = {"as_sending": True, "want_messages": False}
    latvian = RECIPIENTS[:3] + ["+37126000001"] * 5

    def both(account: int, sender: str, **kw: Any) -> tuple[str, str]:
        return (
            _outcome(db, settings, account, sender, **kw),
            _outcome(db, settings, account, sender, **kw, **bulk_kw),
        )

    # no rate: the first recipient without one is named (Belarus, the fourth)
    single, sending = both(rich.account_id, rich.sender)
    assert "no rate for destination Belarus A1 (+375291234567)" in single
    assert sending == single
    # the balance cannot cover it: refused whole, nothing charged or written
    single, sending = both(poor.account_id, poor.sender, recipients=latvian)
    assert single.startswith("PaymentRequired") and sending == single
    # opted-out numbers are named
    with db.write() as session:
        add_opt_out(session, rich.account_id, "+37125123456", datetime.now(UTC))
        add_opt_out(session, rich.account_id, "+37126000001", datetime.now(UTC))
    single, sending = both(rich.account_id, rich.sender, recipients=latvian)
    assert "opted out" in single and sending == single
    # no route: the first number no route takes is named
    with db.write() as session:
        add_route(session, "simulator", prefix="3712612")
    routed = ["+37126123456", "+37126123457", "+37129990001", "+37126123458"]
    single, sending = both(rich.account_id, rich.sender, recipients=routed)
    assert "no route carries messages to Latvia Tele2 (+37129990001)" in single
    assert sending == single
    assert _rows(db) == []
    _assert_numbers_index_every_message(db)
    with db.read() as session:
        assert session.scalars(select(LedgerEntry.entry_type)).all() == ["topup"] * 2


def test_destinations_reach_the_sendings_path() -> None:
    """A sending is prepared as compact Destinations (what bulk.py prices by place)."""
    from smsgate.messaging.prepare import prepare

    request = SendRequest(1, RECIPIENTS, "hi", "ACME", as_sending=True, want_messages=False)
    prepared = prepare(request, max_parts=10, max_recipients=100)
    assert isinstance(prepared.destinations, Destinations)
    assert len(prepared.destinations.places) == 7
    single = prepare(
        SendRequest(1, RECIPIENTS, "hi", "ACME"), max_parts=10, max_recipients=100
    ).destinations
    assert list(prepared.destinations) == single


@pytest.mark.parametrize("count", [0, 1, 3])
def test_request_ids_count_up(count: int) -> None:
    now = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    ids = bulk.request_ids(count, now)
    assert len(ids) == count
    for a, b in itertools.pairwise(ids):
        assert int(uuid.UUID(b)) == int(uuid.UUID(a)) + 1
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and str(parsed) == value
        assert int(parsed) >> 80 == int(now.timestamp() * 1000)


def test_the_checkpoint_of_a_sending_comes_after_its_answer(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the commit does not checkpoint; a thread started when the connection comes
    back does, and the connection's automatic checkpoint is back on afterwards."""
    import sqlite3
    import threading
    from contextlib import closing

    from sqlalchemy import text

    from smsgate.migrations import upgrade
    from tests.support.factories import make_plan

    path = tmp_path / "checkpoint.db"
    upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def checkpoint(file: str) -> None:
        with closing(sqlite3.connect(file, isolation_level=None)) as raw:
            # committed before the checkpoint: another connection sees every row
            seen.append(raw.execute("SELECT count(*), 0 FROM messages").fetchone())
            busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            seen.append((frames - copied, busy))
        done.set()

    monkeypatch.setattr(bulk, "_checkpoint", checkpoint)
    try:
        make_plan(database)
        customer = make_customer(database, balance=Decimal(1000))
        recipients = [f"+3712{n:07d}" for n in range(6_000_000, 6_003_000)]
        SendService(database, Settings(database_url=f"sqlite:///{path}")).send_now(
            SendRequest(
                customer.account_id,
                recipients,
                "hi",
                customer.sender,
                as_sending=True,
                want_messages=False,
            )
        )
        assert done.wait(10)
        assert seen == [(3000, 0), (0, 0)]
        with database.engine.connect() as conn:
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        database.dispose()
