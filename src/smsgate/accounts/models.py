from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, Money, UTCDateTime
from smsgate.kit.time import utcnow


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class TokenScope(StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    tax_rate: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    price_plan_id: Mapped[int | None] = mapped_column(ForeignKey("price_plans.id"))
    credit_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE)
    # None: the price plan's refund policy decides whether undeliverable messages are refunded
    refund_undeliverable: Mapped[bool | None] = mapped_column()
    language: Mapped[str] = mapped_column(String(5), default="en")  # invoices and dashboard
    billing_details: Mapped[str] = mapped_column(Text, default="")  # legal name, address, VAT no.
    email: Mapped[str] = mapped_column(String(200), default="")
    # webhooks: the default URL for status callbacks, and the HMAC key that signs them
    # (kept as is, since signing needs it; shown to the customer only when it is made)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16), default=TokenScope.CUSTOMER)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_tokens_prefix", "prefix"),)
