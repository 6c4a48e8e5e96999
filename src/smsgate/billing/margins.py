"""Revenue, cost and margin over a time range, grouped by account, destination or connector.

Revenue is what customers were charged for messages that were not refunded; cost is what
the upstream charges (recorded per message from the connector's cost plan when it was
submitted). Both come from the messages table, so the report agrees with the ledger: the
revenue of an account equals its charges minus its refunds for those messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, func, select, type_coerce
from sqlalchemy.orm import Session

from smsgate.kit.money import from_units
from smsgate.messaging.models import Message


class MarginGroup(StrEnum):
    ACCOUNT = "account"
    DESTINATION = "destination"
    CONNECTOR = "connector"


@dataclass(frozen=True, slots=True)
class MarginRow:
    key: str
    messages: int
    parts: int
    revenue: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost


def _units(expr: Any) -> ColumnElement[int]:
    return type_coerce(func.coalesce(func.sum(expr), 0), BigInteger)


def margin_report(
    session: Session,
    since: datetime,
    until: datetime,
    group: MarginGroup,
    account_id: int | None = None,
) -> list[MarginRow]:
    key: Any = {
        MarginGroup.ACCOUNT: type_coerce(Message.account_id, BigInteger),
        MarginGroup.DESTINATION: Message.destination,
        MarginGroup.CONNECTOR: func.coalesce(Message.connector, ""),
    }[group]
    revenue = case((Message.refunded.is_(False), Message.price), else_=0)
    # the upstream is paid for what it took, refunded to the customer or not
    cost = func.coalesce(Message.cost, 0)
    query = (
        select(
            key,
            func.count(),
            func.coalesce(func.sum(Message.parts), 0),
            _units(revenue),
            _units(cost),
        )
        .where(Message.created_at >= since, Message.created_at < until)
        .group_by(key)
        .order_by(key)
    )
    if account_id is not None:
        query = query.where(Message.account_id == account_id)
    return [
        MarginRow(str(k), int(n), int(p), from_units(int(r)), from_units(int(c)))
        for k, n, p, r, c in session.execute(query).all()
    ]
