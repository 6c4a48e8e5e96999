"""Account statistics: totals, today and this month in the account's time zone, money spent
net of refunds, and counts by status, from one pass over the account's messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.messaging import queries
from smsgate.messaging.lifecycle import cancel_messages
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from tests.support.factories import make_customer


def _send(db: Database, settings: Settings, account_id: int, sender: str, n: int) -> list[int]:
    accepted = SendService(db, settings).send_now(
        SendRequest(
            account_id=account_id,
            recipients=[f"+3712612{i:04d}" for i in range(n)],
            text="hi",
            sender=sender,
            scheduled_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    return [m.id for m in accepted.messages]


def _created(db: Database, ids: list[int], at: datetime) -> None:
    with db.write() as s:  # the clock cannot be moved for the send itself
        s.execute(update(Message).where(Message.id.in_(ids)).values(created_at=at))


def test_periods_follow_the_account_time_zone_and_refunds(
    db: Database, settings: Settings, plan: str
) -> None:
    c = make_customer(db, balance=Decimal("100"))
    other = make_customer(db, balance=Decimal("100"))
    # 23:30 UTC on 15 March is already 16 March in Tashkent (UTC+5)
    now = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
    today = _send(db, settings, c.account_id, c.sender, 2)
    _created(db, today, datetime(2026, 3, 15, 19, 30, tzinfo=UTC))  # 00:30 local, 16 March
    yesterday = _send(db, settings, c.account_id, c.sender, 3)
    _created(db, yesterday, datetime(2026, 3, 15, 18, 30, tzinfo=UTC))  # 23:30 local, 15th
    last_month = _send(db, settings, c.account_id, c.sender, 4)
    _created(db, last_month, datetime(2026, 2, 28, 18, 0, tzinfo=UTC))
    _send(db, settings, other.account_id, other.sender, 5)  # never counted for c
    with db.write() as s:
        cancel_messages(s, c.account_id, datetime.now(UTC), message_id=yesterday[0])

    with db.read() as s:
        stats = queries.statistics(s, c.account_id, "Asia/Tashkent", now)
        prices = dict(
            s.execute(
                Message.__table__.select()
                .with_only_columns(Message.id, Message.price)
                .where(Message.account_id == c.account_id)
            ).all()
        )
    price = prices[today[0]]
    assert (stats.total.messages, stats.today.messages, stats.month.messages) == (9, 2, 5)
    assert (stats.total.parts, stats.today.parts, stats.month.parts) == (9, 2, 5)
    assert stats.today.spent == 2 * price
    assert stats.month.spent == 4 * price  # the cancelled one was refunded
    assert stats.total.spent == 8 * price
    assert stats.by_status == {"scheduled": 8, "cancelled": 1}


def test_an_account_without_messages(db: Database, plan: str) -> None:
    c = make_customer(db, balance=Decimal("1"))
    with db.read() as s:
        stats = queries.statistics(s, c.account_id, "UTC", datetime.now(UTC))
    assert stats.total == stats.today == stats.month == queries.Period(0, 0, Decimal(0))
    assert stats.by_status == {}
