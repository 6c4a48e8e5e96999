"""The ledger: every balance change is a ledger entry written in the same transaction.

``post`` moves one balance by a signed amount with a guarded ``UPDATE ... RETURNING`` (the
database checks ``amount + delta >= -credit_limit`` on the locked row) and records the
entry. The batch paths (``messaging.accept`` for charges, ``messaging.lifecycle.refund``)
write their entries themselves, one balance update per account per batch, after locking the
balance rows (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``) and checking the
limit against the locked value. Tests assert balance == sum of entries after every flow.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.billing.models import Balance, BalanceKind, EntryType, LedgerEntry
from smsgate.errors import PaymentRequired
from smsgate.kit.time import utcnow


def open_balances(session: Session, account_id: int) -> None:
    session.add_all(
        Balance(account_id=account_id, kind=kind, amount=Decimal(0)) for kind in BalanceKind
    )
    session.flush()


def post(
    session: Session,
    account_id: int,
    amount: Decimal,
    entry_type: EntryType,
    *,
    kind: BalanceKind = BalanceKind.SMS,
    reference: str = "",
    description: str = "",
    enforce_limit: bool = True,
) -> LedgerEntry:
    """Move a balance by ``amount`` (negative for a charge) and record the entry."""
    query = update(Balance).where(Balance.account_id == account_id, Balance.kind == kind)
    if enforce_limit and amount < 0:
        limit = select(Account.credit_limit).where(Account.id == account_id).scalar_subquery()
        query = query.where(Balance.amount + amount >= -limit)
    after = session.execute(
        query.values(amount=Balance.amount + amount, updated_at=utcnow()).returning(Balance.amount)
    ).scalar_one_or_none()
    if after is None:
        raise PaymentRequired("the balance is too low for this operation")
    entry = LedgerEntry(
        account_id=account_id,
        kind=kind,
        entry_type=entry_type,
        amount=amount,
        balance_after=after,
        reference=reference,
        description=description,
    )
    session.add(entry)
    session.flush()
    return entry


def balance(session: Session, account_id: int, kind: BalanceKind = BalanceKind.SMS) -> Decimal:
    value = session.scalar(
        select(Balance.amount).where(Balance.account_id == account_id, Balance.kind == kind)
    )
    return value if value is not None else Decimal(0)


def entries_total(
    session: Session, account_id: int, kind: BalanceKind = BalanceKind.SMS
) -> Decimal:
    """Sum of the ledger (the balance must always equal it)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == kind
        )
    )
    return Decimal(total or 0)


def list_entries(
    session: Session,
    account_id: int,
    *,
    limit: int | None,
    before_id: int | None = None,
    kind: BalanceKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if kind is not None:
        query = query.where(LedgerEntry.kind == kind)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    return list(session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)))


def balances(session: Session, account_id: int) -> dict[str, Decimal]:
    return dict(
        session.execute(
            select(Balance.kind, Balance.amount).where(Balance.account_id == account_id)
        ).all()
    )
