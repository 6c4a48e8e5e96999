from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, Money, UTCDateTime
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus, SendingStatus

# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY is the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Sending(Base):
    """A campaign: one text to many recipients, possibly scheduled."""

    __tablename__ = "sendings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    text: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default=SendingStatus.QUEUED)
    requested_type: Mapped[str] = mapped_column(String(20), default="default")
    surface: Mapped[str] = mapped_column(String(10), default="native")
    recipients: Mapped[int] = mapped_column(default=0)
    parts: Mapped[int] = mapped_column(default=0)
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_sendings_account_id_id", "account_id", "id"),)


class Message(Base):
    """One recipient of a sending, or a single send; also the dispatcher's durable outbox."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    sending_id: Mapped[int | None] = mapped_column(ForeignKey("sendings.id"))
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    surface: Mapped[str] = mapped_column(String(10), default="native")
    msisdn: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    mcc: Mapped[str | None] = mapped_column(String(3))
    mnc: Mapped[str | None] = mapped_column(String(3))
    destination: Mapped[str] = mapped_column(String(120))
    sender: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(5))
    parts: Mapped[int] = mapped_column()
    rate: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)  # charged: parts x rate, plus tax
    cost: Mapped[Decimal | None] = mapped_column(Money)
    refunded: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    error_code: Mapped[str | None] = mapped_column(String(40))
    requested_type: Mapped[str] = mapped_column(String(20), default="default")
    connector: Mapped[str | None] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    # outbox: due time, retry count and the dispatcher lease
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_messages_outbox", "next_attempt_at"),
        Index("ix_messages_account_id_id", "account_id", "id"),
        Index("ix_messages_sending_status", "sending_id", "status"),
        Index("ix_messages_status", "status"),
    )


class MessageNumber(Base):
    """Which of an account's messages went to a number: the index behind the ``phone``
    filter of the message lists, kept as a table of its own.

    An index on ``messages (account_id, msisdn)`` took each number of a sending into its
    b-tree one at a time, in the order recipients came, that is at random places: 6 of the
    11 s SQLite spent writing a million messages (docs/benchmarks.md). This table is filled
    once per sending, in number order (about 2 s for a million), and by each batch of single
    sends. No foreign keys: messages are never deleted, and PostgreSQL checks a foreign key
    of every row with a trigger of its own."""

    __tablename__ = "message_numbers"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class MessagePart(Base):
    """One SMS part as the upstream knows it: its own upstream id and receipt."""

    __tablename__ = "message_parts"

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    part_no: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    upstream_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.SUBMITTED)
    error_code: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_message_parts_upstream", "connector", "upstream_id"),)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column()
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Core tables, for executemany statements that bypass the ORM on hot paths.
messages_table = cast(Table, Message.__table__)
parts_table = cast(Table, MessagePart.__table__)
numbers_table = cast(Table, MessageNumber.__table__)
