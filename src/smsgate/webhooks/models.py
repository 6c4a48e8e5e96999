from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow
from smsgate.messaging.models import BigId


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Base):
    """One event for one URL: the webhook outbox.

    Written in the transaction of the status change it reports. ``next_attempt_at`` is set
    exactly while the delivery is pending; a claim moves it to the end of the claimer's lease
    (so nobody else takes it meanwhile) and ``lease_owner`` fences the claimer's result.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    message_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("messages.id"))
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed and sent
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    # attempts since ``queued_at`` (the event, or its last replay): the retry delay's
    # exponent; the retries end ``webhooks_retry_hours`` after ``queued_at``
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "next_attempt_at"),
        Index("ix_webhook_deliveries_account_id_id", "account_id", "id"),
        Index("ix_webhook_deliveries_message_id", "message_id"),
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: every one is kept."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column()

    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)


deliveries_table = cast(Table, WebhookDelivery.__table__)
attempts_table = cast(Table, WebhookAttempt.__table__)
