"""Top-ups and adjustments of an account's balances: ledger entries, audited."""

from __future__ import annotations

from fastapi import APIRouter, Request

from smsgate.accounts import admin
from smsgate.accounts.service import get_account
from smsgate.billing.models import BalanceKind, LedgerEntry
from smsgate.kit.money import format_amount
from smsgate.surfaces.admin._common import Operator, who
from smsgate.surfaces.admin.schemas import AdjustmentIn, LedgerEntryOut, MoneyOut, TopupIn
from smsgate.surfaces.deps import PathId, runtime

router = APIRouter(tags=["admin: money"])


def money_out(e: LedgerEntry, currency: str) -> MoneyOut:
    return MoneyOut(
        entry=LedgerEntryOut(
            id=e.id,
            account_id=e.account_id,
            kind=e.kind,
            type=e.entry_type,
            amount=format_amount(e.amount),
            balance_after=format_amount(e.balance_after),
            reference=e.reference,
            description=e.description,
            created_at=e.created_at,
        ),
        balance=format_amount(e.balance_after),
        currency=currency,
    )


@router.post(
    "/v1/admin/accounts/{account_id}/topups",
    response_model=MoneyOut,
    status_code=201,
    summary="Credit a balance (a topup ledger entry)",
)
def top_up(account_id: PathId, body: TopupIn, request: Request, principal: Operator) -> MoneyOut:
    with runtime(request).db.write() as session:
        entry = admin.top_up(
            session,
            account_id,
            body.amount,
            body.reason,
            kind=BalanceKind(body.kind),
            **who(request, principal),
        )
        return money_out(entry, get_account(session, account_id).currency)


@router.post(
    "/v1/admin/accounts/{account_id}/adjustments",
    response_model=MoneyOut,
    status_code=201,
    summary="Correct a balance by a signed amount (an adjustment ledger entry)",
)
def adjust(
    account_id: PathId, body: AdjustmentIn, request: Request, principal: Operator
) -> MoneyOut:
    with runtime(request).db.write() as session:
        entry = admin.adjust(
            session,
            account_id,
            body.amount,
            body.reason,
            kind=BalanceKind(body.kind),
            force=body.force,
            **who(request, principal),
        )
        return money_out(entry, get_account(session, account_id).currency)
