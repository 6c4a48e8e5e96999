"""Accounts and their API tokens.

Tokens are random 256-bit strings shown once; only their SHA-256 is stored. A fast hash is
right here (unlike passwords): the secret has full entropy, so nothing can be guessed offline,
and lookup by hash through a unique index keeps authentication to one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account, AccountStatus, ApiToken, TokenScope
from smsgate.billing import ledger
from smsgate.billing.models import BalanceKind, EntryType
from smsgate.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from smsgate.kit.time import utcnow
from smsgate.pricing.models import PricePlan

TOKEN_PREFIX = "sg_"  # noqa: S105 (a public prefix, not a secret)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the result of authenticating a token."""

    token_id: int
    scope: TokenScope
    account_id: int | None
    currency: str = "EUR"
    timezone: str = "UTC"
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def is_operator(self) -> bool:
        return self.scope is TokenScope.OPERATOR


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {zone!r}", field="timezone") from exc
    return zone


def check_currency(currency: str) -> str:
    """An ISO 4217-shaped code, upper-cased."""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidRequest(f"{currency!r} is not a 3-letter currency code", field="currency")
    return currency.upper()


def check_tax_rate(rate: Decimal) -> Decimal:
    if not Decimal(0) <= rate < Decimal(1):
        raise InvalidRequest(
            "the tax rate is a fraction between 0 and 1, e.g. 0.21", field="tax_rate"
        )
    return rate


def plan_by_name(session: Session, name: str) -> PricePlan:
    plan = session.scalar(select(PricePlan).where(PricePlan.name == name))
    if plan is None:
        raise NotFound(f"no price plan named {name!r}", code="plan_not_found")
    return plan


def create_account(
    session: Session,
    name: str,
    *,
    currency: str = "EUR",
    balance: Decimal = Decimal(0),
    plan: str | None = None,
    tax_rate: Decimal = Decimal(0),
    timezone: str = "UTC",
    credit_limit: Decimal = Decimal(0),
) -> Account:
    if not name.strip():
        raise InvalidRequest("the account needs a name", field="name")
    account = Account(
        name=name.strip(),
        currency=check_currency(currency),
        tax_rate=check_tax_rate(tax_rate),
        timezone=check_zone(timezone),
        credit_limit=credit_limit,
        price_plan_id=plan_by_name(session, plan).id if plan else None,
    )
    session.add(account)
    session.flush()
    ledger.open_balances(session, account.id)
    if balance > 0:
        ledger.post(session, account.id, balance, EntryType.TOPUP, description="opening balance")
    return account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}", code="account_not_found")
    return account


def top_up(
    session: Session, account_id: int, amount: Decimal, description: str = "top-up"
) -> Decimal:
    get_account(session, account_id)
    if amount <= 0:
        raise InvalidRequest("a top-up amount must be positive", field="amount")
    entry = ledger.post(session, account_id, amount, EntryType.TOPUP, description=description)
    return entry.balance_after


def create_token(
    session: Session,
    account_id: int | None,
    *,
    scope: TokenScope = TokenScope.CUSTOMER,
    name: str = "",
) -> tuple[ApiToken, str]:
    """Create a token; the plain text is returned once and never stored."""
    if scope is TokenScope.CUSTOMER:
        if account_id is None:
            raise InvalidRequest("a customer token needs an account")
        get_account(session, account_id)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        account_id=account_id,
        scope=scope,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        name=name,
    )
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(session: Session, token_id: int, *, account_id: int | None = None) -> None:
    query = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if account_id is not None:
        query = query.where(ApiToken.account_id == account_id)
    if session.execute(query.values(revoked_at=utcnow())).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active token with id {token_id}", code="token_not_found")


def authenticate(session: Session, plain: str) -> Principal:
    """Resolve a token to its principal; suspended accounts are refused with 403."""
    if not plain:
        raise Unauthenticated("an API token is required")
    row = session.execute(
        select(ApiToken.id, ApiToken.scope, ApiToken.account_id, Account)
        .outerjoin(Account, Account.id == ApiToken.account_id)
        .where(ApiToken.token_hash == hash_token(plain), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthenticated("the API token is unknown or revoked")
    token_id, scope, account_id, account = row
    if account is None:
        return Principal(token_id=token_id, scope=TokenScope(scope), account_id=account_id)
    if account.status == AccountStatus.SUSPENDED:
        raise Forbidden("the account is suspended", code="account_suspended")
    return Principal(
        token_id=token_id,
        scope=TokenScope(scope),
        account_id=account.id,
        currency=account.currency,
        timezone=account.timezone,
        status=AccountStatus(account.status),
    )


def record_token_use(session: Session, used: dict[int, datetime]) -> None:
    """Write ``last_used_at`` for many tokens at once (collected in memory between flushes)."""
    if used:
        session.execute(
            update(ApiToken),
            [{"id": token_id, "last_used_at": at} for token_id, at in used.items()],
        )


__all__ = ["BalanceKind", "Principal", "authenticate", "create_account", "create_token"]
