"""Dashboard sessions: a random secret in a cookie, its SHA-256 and a CSRF token in the
database.

A session ends at the first of: ``idle`` seconds without a request, ``max_age`` seconds
after sign-in, sign-out, or "sign out everywhere" (every session of the user). Seeing a
session moves ``last_seen_at`` at most once a minute (or per half idle period, if shorter),
so reading pages does not write on every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account, AccountStatus
from smsgate.dashboard.models import DashboardSession, DashboardUser
from smsgate.dashboard.users import secret_hash
from smsgate.errors import NotFound

_TOUCH_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Lifetime:
    idle: timedelta
    max_age: timedelta

    @classmethod
    def of(cls, idle_seconds: float, max_seconds: float) -> Lifetime:
        return cls(timedelta(seconds=idle_seconds), timedelta(seconds=max_seconds))


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at a page: the user, their session and what the pages need to know."""

    user_id: int
    email: str
    session_id: int
    csrf_token: str
    locale: str
    is_operator: bool
    account_id: int | None
    account_name: str = ""
    currency: str = "EUR"
    timezone: str = "UTC"
    suspended: bool = False


def open_session(
    session: Session,
    user: DashboardUser,
    lifetime: Lifetime,
    now: datetime,
    *,
    address: str = "",
    user_agent: str = "",
) -> str:
    """Start a session for ``user``; returns the cookie's secret (shown once, not stored)."""
    session.execute(
        delete(DashboardSession).where(DashboardSession.user_id == user.id, _expired(lifetime, now))
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            token_hash=secret_hash(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime.max_age,
            address=address[:64],
            user_agent=user_agent[:200],
        )
    )
    session.flush()
    return secret


def _expired(lifetime: Lifetime, now: datetime) -> ColumnElement[bool]:
    return or_(
        DashboardSession.expires_at <= now, DashboardSession.last_seen_at <= now - lifetime.idle
    )


def find_session(
    session: Session, secret: str, lifetime: Lifetime, now: datetime
) -> tuple[DashboardSession, DashboardUser, Account | None] | None:
    """The live session behind a cookie with its user and account, or None."""
    if not secret or len(secret) > 100:
        return None
    row = session.execute(
        select(DashboardSession, DashboardUser, Account)
        .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
        .outerjoin(Account, Account.id == DashboardUser.account_id)
        .where(DashboardSession.token_hash == secret_hash(secret))
    ).first()
    if row is None:
        return None
    found, user, account = row
    if found.expires_at <= now or found.last_seen_at <= now - lifetime.idle:
        return None
    return found, user, account


def viewer_of(found: DashboardSession, user: DashboardUser, account: Account | None) -> Viewer:
    return Viewer(
        user_id=user.id,
        email=user.email,
        session_id=found.id,
        csrf_token=found.csrf_token,
        locale=user.locale,
        is_operator=user.is_operator,
        account_id=user.account_id,
        account_name=account.name if account else "",
        currency=account.currency if account else "EUR",
        timezone=account.timezone if account else "UTC",
        suspended=account is not None and account.status == AccountStatus.SUSPENDED,
    )


def needs_touch(found: DashboardSession, lifetime: Lifetime, now: datetime) -> bool:
    every = min(_TOUCH_EVERY, lifetime.idle.total_seconds() / 2)
    return (now - found.last_seen_at).total_seconds() >= every


def touch(session: Session, session_id: int, now: datetime) -> None:
    row = session.get(DashboardSession, session_id)
    if row is not None:
        row.last_seen_at = now
        session.flush()


def close_session(session: Session, secret: str) -> None:
    session.execute(
        delete(DashboardSession).where(DashboardSession.token_hash == secret_hash(secret))
    )


def close_all(session: Session, user_id: int) -> int:
    """Sign the user out everywhere; returns how many sessions ended."""
    result = session.execute(delete(DashboardSession).where(DashboardSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_sessions(
    session: Session, user_id: int, lifetime: Lifetime, now: datetime
) -> list[DashboardSession]:
    return list(
        session.scalars(
            select(DashboardSession)
            .where(DashboardSession.user_id == user_id, ~_expired(lifetime, now))
            .order_by(DashboardSession.last_seen_at.desc())
        )
    )


def close_other(session: Session, user_id: int, session_id: int) -> None:
    """End one of the user's own sessions (another browser); someone else's is not found."""
    result = session.execute(
        delete(DashboardSession).where(
            DashboardSession.id == session_id, DashboardSession.user_id == user_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no session {session_id}", code="session_not_found")
