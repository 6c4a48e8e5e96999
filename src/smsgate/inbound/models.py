from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow
from smsgate.messaging.models import BigId


class InboundMessageRow(Base):
    """A message a handset sent to one of our numbers (MO).

    ``account_id`` is the account owning ``destination`` (an approved sender of that name),
    or NULL when no account, or more than one, does: the operator sees those.
    """

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    connector: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    upstream_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_inbound_messages_account_id_id", "account_id", "id"),)


class OptOut(Base):
    """A number that asked an account to stop sending to it (STOP), until it asks again."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    msisdn: Mapped[str] = mapped_column(String(20))
    keyword: Mapped[str] = mapped_column(String(40))  # the word the number sent, or "api"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "msisdn"),)


inbound_table = cast(Table, InboundMessageRow.__table__)
opt_outs_table = cast(Table, OptOut.__table__)
