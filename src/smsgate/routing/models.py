from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class Strategy(StrEnum):
    PRIORITY = "priority"  # the first healthy connector in the list; the next on failure
    WEIGHTED = "weighted"  # weighted round robin over the healthy ones
    LEAST_COST = "least_cost"  # the cheapest healthy one by its cost plan


class Route(Base):
    """One row of the ordered route table: match conditions (NULL = any) and connectors."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    priority: Mapped[int] = mapped_column(default=100)  # lower is tried first
    connectors: Mapped[str] = mapped_column(String(500))  # "name[:weight],name[:weight]"
    strategy: Mapped[str] = mapped_column(String(16), default=Strategy.PRIORITY)
    account_id: Mapped[int | None] = mapped_column()
    plan_id: Mapped[int | None] = mapped_column()
    country: Mapped[str | None] = mapped_column(String(2))
    mcc: Mapped[str | None] = mapped_column(String(3))
    mnc: Mapped[str | None] = mapped_column(String(3))
    prefix: Mapped[str | None] = mapped_column(String(15))
    sender: Mapped[str | None] = mapped_column(String(20))
    requested_type: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
