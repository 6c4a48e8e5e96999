"""Tables of the web dashboard: its users, their sessions, invitations, recipient uploads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smsgate.db import Base, UTCDateTime
from smsgate.kit.time import utcnow


class DashboardUser(Base):
    """A person who signs in to the dashboard: a customer's user (``account_id`` set) or an
    operator (``account_id`` NULL, ``is_operator`` true)."""

    __tablename__ = "dashboard_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    is_operator: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signin_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored,
    so a copy of the database opens no session."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("dashboard_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute end, idle or not
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_dashboard_sessions_user_id", "user_id"),)


class Invitation(Base):
    """An operator's invitation for a person to become a user of an account."""

    __tablename__ = "dashboard_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecipientUpload(Base):
    """A CSV or XLSX file of numbers, read in the background; the page polls its progress.

    Kept in the database rather than in memory so that any API process can answer the poll
    and the send that follows it.
    """

    __tablename__ = "dashboard_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="reading")  # reading|ready|failed
    progress: Mapped[int] = mapped_column(default=0)  # per mille of the file read
    rows: Mapped[int] = mapped_column(default=0)
    valid: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    invalid_sample: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [[row, text, why]]
    numbers: Mapped[str] = mapped_column(Text, default="")  # valid E.164 digits, one a line
    # JSON [[one number, how many], ...] per destination: enough to price the whole list
    destinations: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_dashboard_uploads_account_id_id", "account_id", "id"),)
