from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime


class LimitWindow(Base):
    """One key's current fixed window of one limit, shared by every process.

    ``key`` is a client address as given, or a SHA-256 digest (hex) when the key names a
    secret (a token) or personal data (an email), or is too long or odd to store as it is.
    Rows whose window has ended mean nothing and are pruned (``limits/service.py``).
    """

    __tablename__ = "limit_windows"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    hits: Mapped[int] = mapped_column()
