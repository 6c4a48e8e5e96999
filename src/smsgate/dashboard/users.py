"""Dashboard users: create, check a password, invite, accept an invitation, set the locale.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile). Invitation secrets, like API tokens, have full entropy, so only their SHA-256 is
stored. Services flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.dashboard.models import DashboardUser, Invitation
from smsgate.errors import Conflict, InvalidRequest, NotFound
from smsgate.kit.time import utcnow

LOCALES = ("en", "ru")
MIN_PASSWORD = 8  # NIST SP 800-63B's floor; length, not character classes
MAX_PASSWORD = 1024  # argon2 takes any length; this only bounds the work per attempt
INVITE_PATH = "/app/invite/"

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so that a wrong email costs as long as a wrong
    password (made on first use: hashing takes a noticeable fraction of a second)."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class InviteLink:
    token: str
    account_id: int
    email: str
    expires_at: datetime

    @property
    def path(self) -> str:
        """Where the invitee sets a password; prefix the dashboard's origin to share it."""
        return INVITE_PATH + self.token


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_email(raw: str) -> str:
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > 254
        or any(c.isspace() for c in email)
    ):
        raise InvalidRequest(
            f"{raw[:80]!r} is not an email address", field="email", code="invalid_email"
        )
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"the password needs at least {MIN_PASSWORD} characters",
            field="password",
            code="weak_password",
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidRequest(
            f"the password is longer than {MAX_PASSWORD} characters",
            field="password",
            code="invalid_password",
        )
    return password


def check_locale(locale: str) -> str:
    locale = locale.strip().lower().replace("_", "-").split("-")[0]
    if locale not in LOCALES:
        raise InvalidRequest(
            f"locale {locale!r} is not one of {', '.join(LOCALES)}",
            field="locale",
            code="invalid_locale",
        )
    return locale


def supported_locale(language: str) -> str:
    """The dashboard locale for a language tag such as ``ru-RU``: English when unsupported."""
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LOCALES else "en"


def find_by_email(session: Session, email: str) -> DashboardUser | None:
    return session.scalar(select(DashboardUser).where(DashboardUser.email == email.strip().lower()))


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    account_id: int | None = None,
    operator: bool = False,
    locale: str | None = None,
) -> DashboardUser:
    """A customer's user (``account_id``) or an operator; never both, never neither."""
    if operator == (account_id is not None):
        raise InvalidRequest("a user belongs to one account or is an operator", code="invalid_user")
    email = check_email(email)
    # Hashed before the first query: the session's transaction (on SQLite, the database's
    # write lock) starts with that query and need not wait for the slow hash.
    digest = hash_password(password)
    language = get_account(session, account_id).language if account_id is not None else "en"
    locale = check_locale(locale) if locale else supported_locale(language)
    return _insert(session, email, digest, account_id, operator, locale)


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def _insert(
    session: Session,
    email: str,
    digest: str,
    account_id: int | None,
    operator: bool,
    locale: str,
) -> DashboardUser:
    if find_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists", code="email_taken")
    user = DashboardUser(
        email=email,
        password_hash=digest,
        account_id=account_id,
        is_operator=operator,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def verify_password(session: Session, email: str, password: str) -> DashboardUser | None:
    """The user if the password is right, else None (an unknown email costs the same time).

    Reads only: give it a read session, so that the deliberately slow hash check never
    holds a write lock (SQLite has one for the whole database); then ``record_signin``."""
    user = find_by_email(session, email) if len(email) <= 254 else None
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    return user


def record_signin(session: Session, user_id: int, password: str) -> None:
    """Note the sign-in, and replace a hash made with older parameters by a current one."""
    user = session.get(DashboardUser, user_id)
    if user is None:
        return
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_signin_at = utcnow()
    session.flush()


def set_locale(session: Session, user_id: int, locale: str) -> DashboardUser:
    user = session.get(DashboardUser, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", code="user_not_found")
    user.locale = check_locale(locale)
    session.flush()
    return user


def invite(
    session: Session,
    account_id: int,
    email: str,
    *,
    hours: int = 72,
    now: datetime | None = None,
) -> InviteLink:
    """Invite ``email`` to become a user of the account; the token is returned once."""
    email = check_email(email)
    get_account(session, account_id)
    if find_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists", code="email_taken")
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = Invitation(
        token_hash=secret_hash(token),
        account_id=account_id,
        email=email,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return InviteLink(token, account_id, email, row.expires_at)


def open_invitation(session: Session, token: str, *, now: datetime | None = None) -> Invitation:
    """The invitation behind a link, if it is still open; the same 404 whatever is wrong."""
    row = session.scalar(select(Invitation).where(Invitation.token_hash == secret_hash(token)))
    if row is None or row.accepted_at is not None or row.expires_at <= (now or utcnow()):
        raise NotFound(
            "this invitation is unknown, used or expired; ask for a new one",
            code="invitation_not_found",
        )
    return row


def accept_invitation(
    session: Session, token: str, password: str, *, locale: str | None = None
) -> DashboardUser:
    """Create the invited user with the password they chose; the link then stops working."""
    digest = hash_password(password)  # before the first query, as in create_user
    now = utcnow()
    row = open_invitation(session, token, now=now)
    chosen = (
        check_locale(locale)
        if locale
        else supported_locale(get_account(session, row.account_id).language)
    )
    user = _insert(session, row.email, digest, row.account_id, False, chosen)
    row.accepted_at = now
    session.flush()
    return user


def account_users(session: Session, account_id: int) -> list[DashboardUser]:
    return list(
        session.scalars(
            select(DashboardUser)
            .where(DashboardUser.account_id == account_id)
            .order_by(func.lower(DashboardUser.email))
        )
    )
