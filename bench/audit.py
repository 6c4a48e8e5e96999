"""After each phase, the database must show that every accepted message is durable and
charged: the figures count only work that was really done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.db import Database
from smsgate.messaging.models import Message


@dataclass(frozen=True, slots=True)
class Mark:
    """The last message and ledger entry before a phase: the phase's rows come after."""

    message_id: int
    entry_id: int


def mark(db: Database) -> Mark:
    with db.read() as session:
        return Mark(
            session.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0,
            session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0))) or 0,
        )


def count_since(db: Database, since: Mark) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).where(Message.id > since.message_id)) or 0


def statuses_since(db: Database, since: Mark) -> dict[str, int]:
    with db.read() as session:
        rows = session.execute(
            select(Message.status, func.count())
            .where(Message.id > since.message_id)
            .group_by(Message.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


def times_since(db: Database, since: Mark) -> dict[str, datetime | None]:
    """First acceptance, first and last submission and first and last final status."""
    with db.read() as session:
        row = session.execute(
            select(
                func.min(Message.created_at),
                func.min(Message.submitted_at),
                func.max(Message.submitted_at),
                func.min(Message.done_at),
                func.max(Message.done_at),
            ).where(Message.id > since.message_id)
        ).one()
    keys = ("first_created", "first_submitted", "last_submitted", "first_done", "last_done")
    return dict(zip(keys, row, strict=True))


def check(
    db: Database,
    account_id: int,
    since: Mark,
    *,
    accepted: int,
    in_flight: int = 0,
    charge_entries: int | None = None,
) -> dict[str, Any]:
    """Compare what the client saw accepted with what the database holds.

    ``in_flight``: requests a load generator may have left unanswered when it stopped; the
    server may still have committed them (durable and charged, the client never read the
    answer), so the messages may exceed the accepted count by at most that many.
    ``charge_entries``: the charge entries expected; None means one per message (single
    sends: one request, one message, one entry).
    """
    with db.read() as session:
        messages, priced = session.execute(
            select(func.count(), func.coalesce(func.sum(Message.price), 0)).where(
                Message.id > since.message_id, Message.account_id == account_id
            )
        ).one()
        entries, charged = session.execute(
            select(func.count(), func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.id > since.entry_id,
                LedgerEntry.account_id == account_id,
                LedgerEntry.entry_type == EntryType.CHARGE,
            )
        ).one()
        balance = ledger.balance(session, account_id)
        total = ledger.entries_total(session, account_id)
    # SUM and COALESCE keep the column's Money type, so these are Decimals already.
    priced, charged = Decimal(priced), -Decimal(charged)
    expected_entries = messages if charge_entries is None else charge_entries
    ok = (
        accepted <= messages <= accepted + in_flight
        and entries == expected_entries
        and charged == priced
        and balance == total
    )
    return {
        "accepted": accepted,
        "messages": messages,
        "charge_entries": entries,
        "priced": str(priced),
        "charged": str(charged),
        "balance_equals_ledger": balance == total,
        "ok": ok,
    }
