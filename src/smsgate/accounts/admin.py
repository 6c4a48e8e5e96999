"""The operator's account management: every change is audited in the same transaction.

Each function changes one thing, records one audit entry (``account.<action>``, target
``account:<id>``, the new and the previous value) and flushes; the caller commits. A change
to the value the account already has does nothing and records nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account, AccountStatus, ApiToken, TokenScope
from smsgate.accounts.service import (
    check_currency,
    check_tax_rate,
    check_zone,
    create_account,
    get_account,
    plan_by_name,
)
from smsgate.accounts.service import create_token as _create_token
from smsgate.accounts.service import revoke_token as _revoke_token
from smsgate.audit import service as audit
from smsgate.billing import ledger
from smsgate.billing.invoices import list_invoices
from smsgate.billing.models import Balance, BalanceKind, EntryType, InvoiceStatus, LedgerEntry
from smsgate.errors import InvalidRequest, NotFound, PaymentRequired
from smsgate.kit.money import format_amount
from smsgate.pricing.models import PricePlan

_LANGUAGE = re.compile(r"[a-z]{2}(-[A-Za-z]{2})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_DETAILS = 2000


def _target(account: Account) -> str:
    return f"account:{account.id}"


# ---- creating and listing -------------------------------------------------------------


def open_account(
    session: Session,
    name: str,
    *,
    actor: str,
    address: str = "",
    currency: str = "EUR",
    balance: Decimal = Decimal(0),
    plan: str | None = None,
    tax_rate: Decimal = Decimal(0),
    timezone: str = "UTC",
    credit_limit: Decimal = Decimal(0),
    refund_undeliverable: bool | None = None,
    language: str = "en",
    billing_details: str = "",
    email: str = "",
    token_name: str = "first",  # noqa: S107 (a label, not a secret)
) -> tuple[Account, ApiToken, str]:
    """Create an account (with its opening balance as a top-up entry) and its first token."""
    if credit_limit < 0:
        raise InvalidRequest("the credit limit cannot be negative", field="credit_limit")
    account = create_account(
        session,
        name,
        currency=currency,
        balance=balance,
        plan=plan,
        tax_rate=tax_rate,
        timezone=timezone,
        credit_limit=credit_limit,
    )
    account.refund_undeliverable = refund_undeliverable
    account.language = _check_language(language)
    account.billing_details = _check_details(billing_details)
    account.email = _check_email(email)
    session.flush()
    audit.record(
        session,
        actor,
        "account.create",
        _target(account),
        address=address,
        name=account.name,
        currency=account.currency,
        plan=plan,
        opening_balance=format_amount(balance),
        tax_rate=format_amount(tax_rate),
        credit_limit=format_amount(credit_limit),
    )
    token, plain = create_token(session, account.id, name=token_name, actor=actor, address=address)
    return account, token, plain


def list_accounts(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    status: AccountStatus | None = None,
    search: str | None = None,
) -> tuple[list[Account], int]:
    """A page of accounts by id, and how many match; ``search`` looks in name and e-mail."""
    query = select(Account)
    if status is not None:
        query = query.where(Account.status == status)
    if search:
        query = query.where(
            or_(
                Account.name.icontains(search, autoescape=True),
                Account.email.icontains(search, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Account.id).limit(limit).offset(offset))
    return list(rows), total


def balances_of(session: Session, account_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    """Every balance of many accounts in one query."""
    out = {i: {k.value: Decimal(0) for k in BalanceKind} for i in account_ids}
    if account_ids:
        for account_id, kind, amount in session.execute(
            select(Balance.account_id, Balance.kind, Balance.amount).where(
                Balance.account_id.in_(account_ids)
            )
        ):
            out[account_id][kind] = amount
    return out


def plan_names(session: Session, plan_ids: set[int]) -> dict[int, str]:
    if not plan_ids:
        return {}
    rows = session.execute(select(PricePlan.id, PricePlan.name).where(PricePlan.id.in_(plan_ids)))
    return dict(rows.all())


# ---- changing one thing -------------------------------------------------------------------


def _change(
    session: Session,
    account: Account,
    action: str,
    field: str,
    new: object,
    previous: object,
    *,
    actor: str,
    address: str,
) -> Account:
    session.flush()
    audit.record(
        session,
        actor,
        action,
        _target(account),
        address=address,
        **{field: new, "previous": previous},
    )
    return account


def suspend(session: Session, account_id: int, *, actor: str, address: str = "") -> Account:
    """Refuse the account's tokens and sends (each process's token cache needs ``forget``)."""
    return _set_status(session, account_id, AccountStatus.SUSPENDED, actor, address)


def activate(session: Session, account_id: int, *, actor: str, address: str = "") -> Account:
    return _set_status(session, account_id, AccountStatus.ACTIVE, actor, address)


def _set_status(
    session: Session, account_id: int, status: AccountStatus, actor: str, address: str
) -> Account:
    account = get_account(session, account_id)
    if account.status == status:
        return account
    account.status = status
    session.flush()
    action = "account.suspend" if status is AccountStatus.SUSPENDED else "account.activate"
    audit.record(session, actor, action, _target(account), address=address)
    return account


def set_plan(
    session: Session, account_id: int, plan: str | None, *, actor: str, address: str = ""
) -> Account:
    """Move the account to the plan named ``plan``; None leaves it without a plan."""
    account = get_account(session, account_id)
    new_id = plan_by_name(session, plan).id if plan is not None else None
    if account.price_plan_id == new_id:
        return account
    names = plan_names(session, {i for i in (account.price_plan_id, new_id) if i is not None})
    previous = names.get(account.price_plan_id) if account.price_plan_id else None
    account.price_plan_id = new_id
    return _change(
        session, account, "account.set_plan", "plan", plan, previous, actor=actor, address=address
    )


def set_tax_rate(
    session: Session, account_id: int, rate: Decimal, *, actor: str, address: str = ""
) -> Account:
    check_tax_rate(rate)
    account = get_account(session, account_id)
    if account.tax_rate == rate:
        return account
    previous, account.tax_rate = account.tax_rate, rate
    return _change(
        session,
        account,
        "account.set_tax_rate",
        "tax_rate",
        format_amount(rate),
        format_amount(previous),
        actor=actor,
        address=address,
    )


def set_currency(
    session: Session, account_id: int, currency: str, *, actor: str, address: str = ""
) -> Account:
    """Change the currency of an account that holds no money and owes no unpaid invoice.

    Balances are plain amounts in the account's currency; changing it under a balance would
    silently re-denominate the money, so the balances must be brought to zero first.
    """
    currency = check_currency(currency)
    account = get_account(session, account_id)
    if account.currency == currency:
        return account
    held = {k: v for k, v in ledger.balances(session, account_id).items() if v != 0}
    if held:
        shown = ", ".join(f"{k} {format_amount(v)}" for k, v in sorted(held.items()))
        raise InvalidRequest(
            f"the account still holds money ({shown} {account.currency}); bring its balances "
            "to zero with adjustments before changing the currency",
            code="currency_change_refused",
            field="currency",
        )
    _, unpaid = list_invoices(session, account_id, limit=1, status=InvoiceStatus.UNPAID)
    if unpaid:
        raise InvalidRequest(
            f"the account has {unpaid} unpaid invoice(s) in {account.currency}; pay or cancel "
            "them before changing the currency",
            code="currency_change_refused",
            field="currency",
        )
    previous, account.currency = account.currency, currency
    return _change(
        session,
        account,
        "account.set_currency",
        "currency",
        currency,
        previous,
        actor=actor,
        address=address,
    )


def set_credit_limit(
    session: Session, account_id: int, limit: Decimal, *, actor: str, address: str = ""
) -> Account:
    """How far below zero sends may take the balance; lowering it never changes a balance."""
    if limit < 0:
        raise InvalidRequest("the credit limit cannot be negative", field="credit_limit")
    account = get_account(session, account_id)
    if account.credit_limit == limit:
        return account
    previous, account.credit_limit = account.credit_limit, limit
    return _change(
        session,
        account,
        "account.set_credit_limit",
        "credit_limit",
        format_amount(limit),
        format_amount(previous),
        actor=actor,
        address=address,
    )


def set_timezone(
    session: Session, account_id: int, zone: str, *, actor: str, address: str = ""
) -> Account:
    zone = check_zone(zone)
    account = get_account(session, account_id)
    if account.timezone == zone:
        return account
    previous, account.timezone = account.timezone, zone
    return _change(
        session,
        account,
        "account.set_timezone",
        "timezone",
        zone,
        previous,
        actor=actor,
        address=address,
    )


def set_refund_policy(
    session: Session, account_id: int, refund: bool | None, *, actor: str, address: str = ""
) -> Account:
    """Whether undeliverable messages are refunded; None follows the account's price plan."""
    account = get_account(session, account_id)
    if account.refund_undeliverable is refund:
        return account
    previous, account.refund_undeliverable = account.refund_undeliverable, refund
    return _change(
        session,
        account,
        "account.set_refund_policy",
        "refund_undeliverable",
        refund,
        previous,
        actor=actor,
        address=address,
    )


def _check_language(language: str) -> str:
    if not _LANGUAGE.fullmatch(language):
        raise InvalidRequest(
            f"{language!r} is not a language code such as 'en' or 'ru'", field="language"
        )
    return language


def _check_email(email: str) -> str:
    email = email.strip()
    if email and (len(email) > 200 or not _EMAIL.fullmatch(email)):
        raise InvalidRequest(f"{email!r} is not an e-mail address", field="email")
    return email


def _check_details(details: str) -> str:
    if len(details) > MAX_DETAILS:
        raise InvalidRequest(
            f"billing details are limited to {MAX_DETAILS} characters", field="billing_details"
        )
    return details.strip()


def set_details(
    session: Session,
    account_id: int,
    *,
    actor: str,
    address: str = "",
    name: str | None = None,
    language: str | None = None,
    billing_details: str | None = None,
    email: str | None = None,
) -> Account:
    """Name, invoice language, billing details and e-mail: one audit entry for all of them."""
    account = get_account(session, account_id)
    wanted: dict[str, str] = {}
    if name is not None:
        if not name.strip() or len(name.strip()) > 200:
            raise InvalidRequest("the account name has 1 to 200 characters", field="name")
        wanted["name"] = name.strip()
    if language is not None:
        wanted["language"] = _check_language(language)
    if billing_details is not None:
        wanted["billing_details"] = _check_details(billing_details)
    if email is not None:
        wanted["email"] = _check_email(email)
    changed = {k: v for k, v in wanted.items() if getattr(account, k) != v}
    if not changed:
        return account
    previous = {k: getattr(account, k) for k in changed}
    for key, value in changed.items():
        setattr(account, key, value)
    session.flush()
    audit.record(
        session,
        actor,
        "account.set_details",
        _target(account),
        address=address,
        **changed,
        previous=previous,
    )
    return account


# ---- money --------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("say why: a reason is required", field="reason")
    if len(reason) > 500:
        raise InvalidRequest("the reason is limited to 500 characters", field="reason")
    return reason


def top_up(
    session: Session,
    account_id: int,
    amount: Decimal,
    reason: str,
    *,
    actor: str,
    address: str = "",
    kind: BalanceKind = BalanceKind.SMS,
) -> LedgerEntry:
    """Credit a balance: one ``topup`` ledger entry, described by ``reason``."""
    account = get_account(session, account_id)
    if amount <= 0:
        raise InvalidRequest("a top-up amount must be more than 0", field="amount")
    entry = ledger.post(
        session, account.id, amount, EntryType.TOPUP, kind=kind, description=_reason(reason)
    )
    audit.record(
        session,
        actor,
        "account.topup",
        _target(account),
        address=address,
        amount=format_amount(amount),
        kind=kind.value,
        reason=entry.description,
        ledger_entry_id=entry.id,
    )
    return entry


def adjust(
    session: Session,
    account_id: int,
    amount: Decimal,
    reason: str,
    *,
    actor: str,
    address: str = "",
    kind: BalanceKind = BalanceKind.SMS,
    force: bool = False,
) -> LedgerEntry:
    """Correct a balance by a signed amount: one ``adjustment`` entry.

    A negative adjustment may not take the balance below ``-credit_limit`` (the same floor
    as sends) unless ``force``: a deliberate debt is an explicit decision, and it is audited
    as forced.
    """
    account = get_account(session, account_id)
    if amount == 0:
        raise InvalidRequest("an adjustment of 0 changes nothing", field="amount")
    why = _reason(reason)
    try:
        entry = ledger.post(
            session,
            account.id,
            amount,
            EntryType.ADJUSTMENT,
            kind=kind,
            description=why,
            enforce_limit=not force,
        )
    except PaymentRequired:
        now = ledger.balance(session, account.id, kind)
        after, floor = format_amount(now + amount), format_amount(-account.credit_limit)
        raise InvalidRequest(
            f"the adjustment would take the {kind.value} balance from {format_amount(now)} to "
            f"{after}, below its floor of {floor} (minus the credit limit); "
            "send force=true to allow it",
            code="below_credit_limit",
            field="amount",
        ) from None
    audit.record(
        session,
        actor,
        "account.adjust",
        _target(account),
        address=address,
        amount=format_amount(amount),
        kind=kind.value,
        reason=why,
        forced=force,
        ledger_entry_id=entry.id,
    )
    return entry


# ---- tokens -------------------------------------------------------------------------------


def create_token(
    session: Session, account_id: int, *, name: str = "", actor: str, address: str = ""
) -> tuple[ApiToken, str]:
    """A customer token of the account; the plain text is returned once, never stored."""
    return _new_token(session, account_id, TokenScope.CUSTOMER, name, actor, address)


def create_operator_token(
    session: Session, *, name: str = "", actor: str, address: str = ""
) -> tuple[ApiToken, str]:
    return _new_token(session, None, TokenScope.OPERATOR, name, actor, address)


def _new_token(
    session: Session,
    account_id: int | None,
    scope: TokenScope,
    name: str,
    actor: str,
    address: str,
) -> tuple[ApiToken, str]:
    if len(name) > 100:
        raise InvalidRequest("a token name is limited to 100 characters", field="name")
    token, plain = _create_token(session, account_id, scope=scope, name=name.strip())
    audit.record(
        session,
        actor,
        "token.create",
        f"token:{token.id}",
        address=address,
        scope=scope.value,
        account_id=account_id,
        name=token.name,
        prefix=token.prefix,
    )
    return token, plain


def list_tokens(
    session: Session, account_id: int | None, *, limit: int, offset: int = 0
) -> tuple[list[ApiToken], int]:
    """Tokens of an account, or the operator tokens when ``account_id`` is None; newest first."""
    if account_id is None:
        query = select(ApiToken).where(ApiToken.scope == TokenScope.OPERATOR)
    else:
        get_account(session, account_id)
        query = select(ApiToken).where(ApiToken.account_id == account_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ApiToken.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def revoke_token(session: Session, token_id: int, *, actor: str, address: str = "") -> ApiToken:
    """Revoke a token (each process's token cache needs ``forget`` to stop it at once)."""
    _revoke_token(session, token_id)
    token = session.get(ApiToken, token_id, populate_existing=True)
    if token is None:  # revoke_token has just found it
        raise NotFound(f"no token with id {token_id}", code="token_not_found")
    audit.record(
        session,
        actor,
        "token.revoke",
        f"token:{token.id}",
        address=address,
        scope=token.scope,
        account_id=token.account_id,
        prefix=token.prefix,
    )
    return token
