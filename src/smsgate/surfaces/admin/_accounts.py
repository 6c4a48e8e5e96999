"""``/v1/admin/accounts``: create, list, read and change customer accounts."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from smsgate.accounts import admin
from smsgate.accounts.models import Account, AccountStatus
from smsgate.accounts.service import get_account
from smsgate.kit.money import format_amount
from smsgate.surfaces.admin._common import Limit, Offset, Operator, who
from smsgate.surfaces.admin._tokens import token_out
from smsgate.surfaces.admin.schemas import (
    AccountCreatedOut,
    AccountIn,
    AccountOut,
    AccountPatch,
    AccountsPage,
    TokenCreatedOut,
)
from smsgate.surfaces.deps import PathId, runtime
from smsgate.surfaces.rendering import problem_responses

router = APIRouter(tags=["admin: accounts"])


def accounts_out(session: Session, accounts: Sequence[Account]) -> list[AccountOut]:
    balances = admin.balances_of(session, [a.id for a in accounts])
    plans = admin.plan_names(session, {a.price_plan_id for a in accounts if a.price_plan_id})
    return [
        AccountOut(
            id=a.id,
            name=a.name,
            status=a.status,
            currency=a.currency,
            plan=plans.get(a.price_plan_id) if a.price_plan_id else None,
            tax_rate=format_amount(a.tax_rate),
            credit_limit=format_amount(a.credit_limit),
            timezone=a.timezone,
            refund_undeliverable=a.refund_undeliverable,
            language=a.language,
            billing_details=a.billing_details,
            email=a.email,
            created_at=a.created_at,
            balances={k: format_amount(v) for k, v in balances[a.id].items()},
        )
        for a in accounts
    ]


@router.post(
    "/v1/admin/accounts",
    response_model=AccountCreatedOut,
    status_code=201,
    summary="Create an account and its first token (shown once)",
    responses=problem_responses(404),  # plan_not_found: the body names a plan that is not there
)
def create_account(body: AccountIn, request: Request, principal: Operator) -> AccountCreatedOut:
    with runtime(request).db.write() as session:
        account, token, plain = admin.open_account(
            session,
            body.name,
            currency=body.currency,
            balance=body.balance,
            plan=body.plan,
            tax_rate=body.tax_rate,
            timezone=body.timezone,
            credit_limit=body.credit_limit,
            refund_undeliverable=body.refund_undeliverable,
            language=body.language,
            billing_details=body.billing_details,
            email=body.email,
            token_name=body.token_name,
            **who(request, principal),
        )
        return AccountCreatedOut(
            account=accounts_out(session, [account])[0],
            token=TokenCreatedOut(**token_out(token).model_dump(), token=plain),
        )


@router.get("/v1/admin/accounts", response_model=AccountsPage, summary="Accounts, by id")
def list_accounts(
    request: Request,
    principal: Operator,
    limit: Limit = 50,
    offset: Offset = 0,
    status: AccountStatus | None = None,
    q: str | None = None,
) -> AccountsPage:
    with runtime(request).db.read() as session:
        rows, total = admin.list_accounts(
            session, limit=limit, offset=offset, status=status, search=q
        )
        return AccountsPage(
            accounts=accounts_out(session, rows), total=total, limit=limit, offset=offset
        )


@router.get("/v1/admin/accounts/{account_id}", response_model=AccountOut, summary="One account")
def read_account(account_id: PathId, request: Request, principal: Operator) -> AccountOut:
    with runtime(request).db.read() as session:
        return accounts_out(session, [get_account(session, account_id)])[0]


@router.patch(
    "/v1/admin/accounts/{account_id}",
    response_model=AccountOut,
    summary="Change an account: only the fields sent change, all or none",
)
def patch_account(
    account_id: PathId, body: AccountPatch, request: Request, principal: Operator
) -> AccountOut:
    rt = runtime(request)
    given = body.model_fields_set
    w = who(request, principal)
    with rt.db.write() as session:
        get_account(session, account_id)
        details = {"name", "language", "billing_details", "email"} & given
        if details:
            admin.set_details(session, account_id, **{k: getattr(body, k) for k in details}, **w)
        if "plan" in given:
            admin.set_plan(session, account_id, body.plan, **w)
        if body.tax_rate is not None:
            admin.set_tax_rate(session, account_id, body.tax_rate, **w)
        if body.currency is not None:
            admin.set_currency(session, account_id, body.currency, **w)
        if body.credit_limit is not None:
            admin.set_credit_limit(session, account_id, body.credit_limit, **w)
        if body.timezone is not None:
            admin.set_timezone(session, account_id, body.timezone, **w)
        if "refund_undeliverable" in given:
            admin.set_refund_policy(session, account_id, body.refund_undeliverable, **w)
        if body.status == AccountStatus.SUSPENDED:
            admin.suspend(session, account_id, **w)
        elif body.status == AccountStatus.ACTIVE:
            admin.activate(session, account_id, **w)
        out = accounts_out(session, [get_account(session, account_id)])[0]
    if body.status is not None:
        # This process's token cache would keep accepting (or refusing) the account's tokens
        # for up to its TTL; other processes still do, for at most that long.
        rt.auth.forget()
    return out
