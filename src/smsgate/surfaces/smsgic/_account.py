"""``GET /balance``, ``GET /senders``, ``GET /rates``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.accounts.service import get_account
from smsgate.billing import ledger
from smsgate.pricing.models import Rate
from smsgate.pricing.service import list_rates
from smsgate.runtime import Runtime
from smsgate.senders.service import list_senders
from smsgate.surfaces.deps import customer, customer_async, runtime
from smsgate.surfaces.smsgic._params import RateFilter, check_rate_filter, request_fields
from smsgate.surfaces.smsgic._shape import SIGNS, answer, balance_text, invalid, number

router = APIRouter(tags=["SMSgic"])


@router.get("/balance", summary="SMSgic: the account's SMS balance")
def get_balance(request: Request) -> Response:
    principal = customer(request)
    assert principal.account_id is not None
    with runtime(request).db.read() as session:
        amount = ledger.balance(session, principal.account_id)
    code = principal.currency
    return answer({"balance": balance_text(amount), "sign": SIGNS.get(code, code), "code": code})


@router.get("/senders", summary="SMSgic: the account's approved sender names")
def get_senders(request: Request) -> Response:
    principal = customer(request)
    assert principal.account_id is not None
    with runtime(request).db.read() as session:
        senders = list_senders(session, principal.account_id, approved_only=True)
        return answer({"senders": [{"id": s.id, "sender": s.name} for s in senders]})


def _rates(rt: Runtime, account_id: int, flt: RateFilter) -> list[Rate]:
    with rt.db.read() as session:
        plan_id = get_account(session, account_id).price_plan_id
        rates = list_rates(
            session, plan_id, mcc=flt.mcc, mnc=flt.mnc, mnc_null=flt.mnc_null, country=flt.country
        )
    return rates if flt.mccs is None else [r for r in rates if r.mcc in flt.mccs]


@router.get("/rates", summary="SMSgic: the account's rates, filtered")
async def get_rates(request: Request) -> Response:
    principal = await customer_async(request)
    assert principal.account_id is not None
    flt, errors = check_rate_filter(await request_fields(request))
    if errors:
        raise invalid(errors)
    rates = await run_in_threadpool(_rates, runtime(request), principal.account_id, flt)
    return answer(
        {
            "rates": [
                {"mcc": r.mcc, "mnc": r.mnc, "country": r.country, "rate": number(r.price)}
                for r in rates
            ]
        }
    )
