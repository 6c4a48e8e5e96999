from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class AuditEntry(Base):
    """One operator action or token change; never updated or deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))  # "token:12", "cli:root", "user:3"
    action: Mapped[str] = mapped_column(String(64))  # "invoice.pay", "token.create", ...
    target: Mapped[str] = mapped_column(String(100), default="")  # "invoice:C13294/20210323"
    details: Mapped[str] = mapped_column(Text, default="")  # JSON, never secrets
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)
