"""Balance, ledger, rates, quotes and sender names of the calling account."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from smsgate.accounts.service import Principal, get_account
from smsgate.billing import ledger
from smsgate.kit.csvsafe import to_csv
from smsgate.kit.money import format_amount
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.prepare import resolve_all
from smsgate.pricing.models import PricePlan
from smsgate.pricing.quote import quote
from smsgate.pricing.service import list_rates
from smsgate.senders.service import list_senders, request_sender
from smsgate.surfaces.deps import MAX_ID, customer, runtime
from smsgate.surfaces.native._messages import check_aware, parse_cursor
from smsgate.surfaces.native.schemas import (
    BalanceOut,
    LedgerEntryOut,
    LedgerPage,
    PeriodOut,
    QuoteIn,
    QuoteLineOut,
    QuoteOut,
    RateOut,
    RatesOut,
    SenderIn,
    SenderOut,
    StatisticsOut,
)

router = APIRouter(tags=["account"])
Customer = Annotated[Principal, Depends(customer)]


def _account_id(principal: Principal) -> int:
    assert principal.account_id is not None
    return principal.account_id


@router.get("/v1/balance", response_model=BalanceOut, summary="Balances of the account")
def get_balance(request: Request, principal: Customer) -> BalanceOut:
    with runtime(request).db.read() as session:
        account = get_account(session, _account_id(principal))
        amounts = ledger.balances(session, account.id)
    return BalanceOut(
        balance=format_amount(amounts.get("sms", Decimal(0))),
        currency=account.currency,
        credit_limit=format_amount(account.credit_limit),
        balances={k: format_amount(v) for k, v in amounts.items()},
    )


@router.get("/v1/ledger", response_model=LedgerPage, summary="Ledger entries, newest first")
def get_ledger(
    request: Request,
    principal: Customer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> LedgerPage:
    check_aware(since=since, until=until)
    with runtime(request).db.read() as session:
        rows = ledger.list_entries(
            session,
            _account_id(principal),
            limit=limit,
            before_id=parse_cursor(cursor, high=MAX_ID),
            since=since,
            until=until,
        )
    return LedgerPage(
        entries=[
            LedgerEntryOut(
                id=e.id,
                kind=e.kind,
                type=e.entry_type,
                amount=format_amount(e.amount),
                balance_after=format_amount(e.balance_after),
                reference=e.reference,
                description=e.description,
                created_at=e.created_at,
            )
            for e in rows
        ],
        next_cursor=str(rows[-1].id) if len(rows) == limit else None,
    )


@router.get(
    "/v1/ledger.csv",
    summary="The ledger of a time range as CSV (a statement)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_ledger_csv(
    request: Request,
    principal: Customer,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    check_aware(since=since, until=until)
    with runtime(request).db.read() as session:
        rows = ledger.list_entries(
            session, _account_id(principal), limit=None, since=since, until=until
        )
    body = to_csv(
        ("id", "created_at", "kind", "type", "amount", "balance_after", "reference", "description"),
        (
            [
                e.id,
                e.created_at.isoformat(),
                e.kind,
                e.entry_type,
                format_amount(e.amount),
                format_amount(e.balance_after),
                e.reference,
                e.description,
            ]
            for e in reversed(rows)
        ),
        allow_numbers=True,
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="statement.csv"'},
    )


@router.get("/v1/statistics", response_model=StatisticsOut, summary="Messages and money")
def get_statistics(request: Request, principal: Customer) -> StatisticsOut:
    """Totals, today and this month (days and months in the account's time zone)."""
    with runtime(request).db.read() as session:
        stats = queries.statistics(session, _account_id(principal), principal.timezone, utcnow())

    def period(p: queries.Period) -> PeriodOut:
        return PeriodOut(messages=p.messages, parts=p.parts, spent=format_amount(p.spent))

    return StatisticsOut(
        total=period(stats.total),
        today=period(stats.today),
        month=period(stats.month),
        by_status=stats.by_status,
        currency=principal.currency,
        timezone=principal.timezone,
    )


@router.get("/v1/rates", response_model=RatesOut, summary="The account's price plan")
def get_rates(
    request: Request,
    principal: Customer,
    mcc: Annotated[str | None, Query(pattern=r"^\d{3}$")] = None,
    mnc: Annotated[str | None, Query(pattern=r"^\d{2,3}$")] = None,
    country: Annotated[str | None, Query(max_length=100)] = None,
) -> RatesOut:
    with runtime(request).db.read() as session:
        account = get_account(session, _account_id(principal))
        plan = session.get(PricePlan, account.price_plan_id) if account.price_plan_id else None
        rates = list_rates(session, account.price_plan_id, mcc=mcc, mnc=mnc, country=country)
    return RatesOut(
        plan=plan.name if plan else None,
        currency=account.currency,
        rates=[
            RateOut(
                mcc=r.mcc,
                mnc=r.mnc,
                country=r.country,
                network=r.network,
                price=format_amount(r.price),
            )
            for r in rates
        ],
    )


@router.post("/v1/quote", response_model=QuoteOut, summary="Price a text for many numbers")
def post_quote(body: QuoteIn, request: Request, principal: Customer) -> QuoteOut:
    rt = runtime(request)
    destinations = resolve_all(body.to, rt.settings.max_recipients)
    with rt.db.read() as session:
        q = quote(session, rt.sends.books, _account_id(principal), body.text, destinations)
    return QuoteOut(
        encoding=q.segments.encoding,
        parts_per_message=q.segments.parts,
        characters=len(body.text),
        lines=[
            QuoteLineOut(
                destination=ln.destination,
                mcc=ln.mcc,
                mnc=ln.mnc,
                numbers=ln.numbers,
                rate=format_amount(ln.rate),
                parts=ln.parts,
                subtotal=format_amount(ln.subtotal),
                tax=format_amount(ln.tax),
                total=format_amount(ln.total),
            )
            for ln in q.lines
        ],
        parts=q.parts,
        subtotal=format_amount(q.subtotal),
        tax=format_amount(q.tax),
        total=format_amount(q.total),
        currency=q.currency,
    )


def _sender_out(s: object) -> SenderOut:
    return SenderOut.model_validate(s, from_attributes=True)


@router.get("/v1/senders", response_model=list[SenderOut], summary="Sender names and their state")
def get_senders(request: Request, principal: Customer) -> list[SenderOut]:
    with runtime(request).db.read() as session:
        return [_sender_out(s) for s in list_senders(session, _account_id(principal))]


@router.post(
    "/v1/senders", response_model=SenderOut, status_code=201, summary="Request a sender name"
)
def post_sender(body: SenderIn, request: Request, principal: Customer) -> SenderOut:
    with runtime(request).db.write() as session:
        return _sender_out(request_sender(session, _account_id(principal), body.name))
