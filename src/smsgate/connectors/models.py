from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class ConnectorConfig(Base):
    """An upstream as the operator configured it; configuration lives in the database so
    that every process sees the same connectors and changes need no restart."""

    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # JSON; an HTTP connector's callback_token in it is sealed (vault.py) and never shown
    options: Mapped[str] = mapped_column(Text, default="{}")
    # password / API key, sealed (vault.py; plain in rows from before); never returned
    secret: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
