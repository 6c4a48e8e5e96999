from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, Money, UTCDateTime
from smsgate.kit.time import utcnow


class PricePlan(Base):
    __tablename__ = "price_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Bumped on every change so that each process's rate cache knows when to reload.
    version: Mapped[int] = mapped_column(default=1)
    refund_undeliverable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rate(Base):
    """Price of one SMS part to a network; ``mnc`` NULL is the country's default rate."""

    __tablename__ = "rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("price_plans.id", ondelete="CASCADE"))
    mcc: Mapped[str] = mapped_column(String(3))
    mnc: Mapped[str | None] = mapped_column(String(3))
    country: Mapped[str] = mapped_column(String(100), default="")
    network: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (Index("ix_rates_plan_mcc_mnc", "plan_id", "mcc", "mnc"),)


class ConnectorCostPlan(Base):
    """What an upstream charges smsgate: a price plan used as the connector's cost plan."""

    __tablename__ = "connector_cost_plans"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("price_plans.id"))
