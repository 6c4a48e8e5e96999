from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class CodeKind(StrEnum):
    LETTERS = "letters"
    NUMBERS = "numbers"
    BOTH = "both"


class MessageTemplate(Base):
    """A text created once and sent to many numbers by id."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    text: Mapped[str] = mapped_column(Text)
    # NULL: the account's system sender (its oldest approved sender) at the time of sending
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("senders.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_message_templates_account_id_id", "account_id", "id"),)


class PasswordObject(Base):
    """How to make a one-time code: its alphabet and length."""

    __tablename__ = "password_objects"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(8))
    length: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_password_objects_account_id_id", "account_id", "id"),)
