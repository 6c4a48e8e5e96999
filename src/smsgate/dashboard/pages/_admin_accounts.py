"""Accounts: list and search, create (with a first user's invitation), suspend and resume,
plan and credit limit, top-ups and adjustments. Every change goes through
``accounts.admin``, which audits it; a new token or invitation link is shown once, in the
answer to the POST that made it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.accounts import admin as accounts_admin
from smsgate.accounts.models import Account, AccountStatus
from smsgate.accounts.service import get_account
from smsgate.audit import service as audit
from smsgate.billing import ledger
from smsgate.billing.models import BalanceKind
from smsgate.dashboard import users
from smsgate.dashboard.pages._admin_common import PAGE, Who, money_of, who
from smsgate.dashboard.web import Operator, page_router, render, runtime, see_other
from smsgate.errors import InvalidRequest
from smsgate.kit.money import format_amount
from smsgate.pricing import admin as pricing_admin
from smsgate.surfaces.deps import MAX_BIG_ID, PathId

router = page_router()
Offset = Annotated[int, Query(ge=0, le=MAX_BIG_ID)]
Text = Annotated[str, Form(max_length=200)]
Money = Annotated[str, Form(max_length=40)]
Reason = Annotated[str, Form(max_length=600)]
Kind = Annotated[str, Form(max_length=10)]


def _plan_names(session: Session) -> list[str]:
    plans, _ = pricing_admin.list_plans(session, limit=500)
    return [s.plan.name for s in plans]


def _plan_of(session: Session, account: Account) -> str | None:
    if account.price_plan_id is None:
        return None
    return accounts_admin.plan_names(session, {account.price_plan_id}).get(account.price_plan_id)


def _kind(kind: str) -> BalanceKind:
    if kind not in set(BalanceKind):
        raise InvalidRequest(f"unknown balance {kind!r}", field="kind")
    return BalanceKind(kind)


@router.get("/admin/accounts")
def accounts(
    request: Request,
    viewer: Operator,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    offset: Offset = 0,
) -> Response:
    if status and status not in set(AccountStatus):
        raise InvalidRequest(f"unknown account status {status!r}", field="status")
    with runtime(request).db.read() as session:
        rows, total = accounts_admin.list_accounts(
            session,
            limit=PAGE,
            offset=offset,
            status=AccountStatus(status) if status else None,
            search=q.strip() or None,
        )
        balances = accounts_admin.balances_of(session, [a.id for a in rows])
        plans = accounts_admin.plan_names(
            session, {a.price_plan_id for a in rows if a.price_plan_id}
        )
    context = {
        "rows": rows,
        "total": total,
        "balances": balances,
        "plans": plans,
        "filters": {"q": q, "status": status},
        "statuses": [s.value for s in AccountStatus],
        "offset": offset,
        "page": PAGE,
    }
    return render(request, "admin/accounts.html", context)


@router.get("/admin/accounts/new")
def new_account(request: Request, viewer: Operator) -> Response:
    with runtime(request).db.read() as session:
        plans = _plan_names(session)
    return render(request, "admin/account_new.html", {"plans": plans, "locales": users.LOCALES})


def _invite(session: Session, request: Request, account_id: int, email: str, by: Who) -> str:
    """Invite ``email`` to the account (audited as ``smsgate users invite`` is): the link."""
    hours = runtime(request).settings.dashboard_invitation_hours
    link = users.invite(session, account_id, email, hours=hours)
    audit.record(
        session, by["actor"], "user.invite", f"account:{account_id}",
        address=by["address"], email=link.email,
    )  # fmt: skip
    return str(request.base_url).rstrip("/") + link.path


@router.post("/admin/accounts")
def create_account(
    request: Request,
    viewer: Operator,
    name: Text,
    currency: Annotated[str, Form(max_length=3)] = "EUR",
    plan: Annotated[str, Form(max_length=100)] = "",
    balance: Money = "0",
    credit_limit: Money = "0",
    tax_rate: Money = "0",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    language: Annotated[str, Form(max_length=5)] = "en",
    email: Text = "",
    invite_email: Text = "",
) -> Response:
    """The new token and invitation link are in this answer only (never in a URL)."""
    by = who(request, viewer)
    with runtime(request).db.write() as session:
        account, _, token = accounts_admin.open_account(
            session,
            name,
            currency=currency.strip().upper(),
            balance=money_of(balance or "0", "balance"),
            plan=plan or None,
            tax_rate=money_of(tax_rate or "0", "tax_rate"),
            timezone=timezone.strip(),
            credit_limit=money_of(credit_limit or "0", "credit_limit"),
            language=language,
            email=email,
            **by,
        )
        link = ""
        if invite_email.strip():
            link = _invite(session, request, account.id, invite_email, by)
        return _account_page(request, session, account, token=token, invite_link=link)


def _account_page(
    request: Request, session: Session, account: Account, **shown_once: str
) -> Response:
    context: dict[str, Any] = {
        "account": account,
        "balances": ledger.balances(session, account.id),
        "plan": _plan_of(session, account),
        "credit_limit": format_amount(account.credit_limit),
        "plans": _plan_names(session),
        "users": users.account_users(session, account.id),
        "entries": ledger.list_entries(session, account.id, limit=20),
        "kinds": [k.value for k in BalanceKind],
        "invite_hours": runtime(request).settings.dashboard_invitation_hours,
        "done": request.query_params.get("done", ""),
        "token": "",
        "invite_link": "",
    }
    return render(request, "admin/account.html", context | shown_once)


@router.get("/admin/accounts/{account_id}")
def account(request: Request, viewer: Operator, account_id: PathId) -> Response:
    with runtime(request).db.read() as session:
        return _account_page(request, session, get_account(session, account_id))


def _back(account_id: int, done: str) -> Response:
    return see_other(f"/admin/accounts/{account_id}?done={done}")


@router.post("/admin/accounts/{account_id}/suspend")
def suspend(request: Request, viewer: Operator, account_id: PathId) -> Response:
    rt = runtime(request)
    with rt.db.write() as session:
        accounts_admin.suspend(session, account_id, **who(request, viewer))
    rt.auth.forget()  # this process refuses the account's tokens at once, others within 2 s
    return _back(account_id, "suspended")


@router.post("/admin/accounts/{account_id}/resume")
def resume(request: Request, viewer: Operator, account_id: PathId) -> Response:
    rt = runtime(request)
    with rt.db.write() as session:
        accounts_admin.activate(session, account_id, **who(request, viewer))
    rt.auth.forget()
    return _back(account_id, "resumed")


@router.post("/admin/accounts/{account_id}/plan")
def set_plan(
    request: Request,
    viewer: Operator,
    account_id: PathId,
    plan: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    with runtime(request).db.write() as session:
        accounts_admin.set_plan(session, account_id, plan or None, **who(request, viewer))
    return _back(account_id, "plan")


@router.post("/admin/accounts/{account_id}/credit-limit")
def set_credit_limit(
    request: Request, viewer: Operator, account_id: PathId, credit_limit: Money
) -> Response:
    limit = money_of(credit_limit, "credit_limit")
    with runtime(request).db.write() as session:
        accounts_admin.set_credit_limit(session, account_id, limit, **who(request, viewer))
    return _back(account_id, "credit_limit")


@router.post("/admin/accounts/{account_id}/topup")
def top_up(
    request: Request,
    viewer: Operator,
    account_id: PathId,
    amount: Money,
    reason: Reason,
    kind: Kind = "sms",
) -> Response:
    value = money_of(amount, "amount")
    with runtime(request).db.write() as session:
        accounts_admin.top_up(
            session, account_id, value, reason, kind=_kind(kind), **who(request, viewer)
        )
    return _back(account_id, "topup")


@router.post("/admin/accounts/{account_id}/adjust")
def adjust(
    request: Request,
    viewer: Operator,
    account_id: PathId,
    amount: Money,
    reason: Reason,
    kind: Kind = "sms",
    force: Annotated[bool, Form()] = False,
) -> Response:
    value = money_of(amount, "amount", allow_negative=True)
    with runtime(request).db.write() as session:
        accounts_admin.adjust(
            session, account_id, value, reason, kind=_kind(kind), force=force,
            **who(request, viewer),
        )  # fmt: skip
    return _back(account_id, "adjusted")


@router.post("/admin/accounts/{account_id}/invite")
def invite(request: Request, viewer: Operator, account_id: PathId, email: Text) -> Response:
    """The link is in this answer only."""
    with runtime(request).db.write() as session:
        account = get_account(session, account_id)
        link = _invite(session, request, account.id, email, who(request, viewer))
        return _account_page(request, session, account, invite_link=link)
