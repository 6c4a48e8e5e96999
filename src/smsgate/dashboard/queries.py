"""Reads only the dashboard needs (the rest come from each domain's own queries); every one
is scoped by account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from smsgate.messaging.models import Message
from smsgate.messaging.status import MessageStatus

# Messages that reached a verdict from the network; cancelled ones never left.
_JUDGED = (MessageStatus.DELIVERED, MessageStatus.UNDELIVERABLE, MessageStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class DayDelivery:
    day: date
    start: datetime
    delivered: int
    failed: int

    @property
    def rate(self) -> float | None:
        judged = self.delivered + self.failed
        return self.delivered / judged if judged else None


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def delivery_by_day(
    session: Session, account_id: int, timezone: str, now: datetime, days: int = 14
) -> list[DayDelivery]:
    """Delivered and failed messages per day sent (days in the account's zone), oldest
    first; one query, with the day buckets as a CASE so that it runs on both engines."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    starts = [local_midnight(d, zone) for d in dates]
    bucket = case(
        *[(Message.created_at < starts[i + 1], i) for i in range(days - 1)], else_=days - 1
    )
    rows = session.execute(
        select(bucket, Message.status, func.count())
        .where(
            Message.account_id == account_id,
            Message.created_at >= starts[0],
            Message.status.in_([s.value for s in _JUDGED]),
        )
        .group_by(bucket, Message.status)
    ).all()
    delivered, failed = [0] * days, [0] * days
    for index, status, count in rows:
        target = delivered if status == MessageStatus.DELIVERED else failed
        target[int(index)] += int(count)
    return [
        DayDelivery(d, s, delivered[i], failed[i])
        for i, (d, s) in enumerate(zip(dates, starts, strict=True))
    ]
