from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class EarlyReceipt(Base):
    """A receipt whose part is not recorded yet (it overtook its own submit response).

    Kept until the submit is recorded, then applied; never dropped.
    """

    __tablename__ = "early_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    upstream_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_early_receipts_upstream", "connector", "upstream_id"),)


class ConnectorLease(Base):
    """Which dispatcher holds a configured connector's binds, and until when.

    Renewed by its holder on every refresh; another dispatcher takes it over once
    ``lease_until`` has passed (see ``dispatch/leases.py``)."""

    __tablename__ = "connector_leases"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
