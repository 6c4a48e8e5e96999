"""Balance, the SMS limit and alpha names (sender names)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.accounts.service import get_account
from smsgate.billing import ledger
from smsgate.billing.models import BalanceKind
from smsgate.errors import NotFound
from smsgate.pricing.service import charge_for, list_rates
from smsgate.senders.service import list_senders
from smsgate.surfaces.smsby._transport import Call, answer, command

_BALANCE_PLACES = Decimal("0.00001")  # "2.86600": sms.by shows five decimals
_NO_LIMIT = 2**31 - 1


def _balance_text(amount: Decimal) -> str:
    # Rounded down: never show more money than there is.
    return f"{amount.quantize(_BALANCE_PLACES, rounding=ROUND_DOWN) + 0:.5f}"


@command("getBalance")
async def get_balance(call: Call) -> Response:
    def work(session: Session) -> dict[str, object]:
        account = get_account(session, call.account_id)
        amounts = ledger.balances(session, account.id)
        return {
            "status": "OK",
            "currency": account.currency,
            "result": [
                {
                    "balance": _balance_text(amounts.get(BalanceKind.SMS, Decimal(0))),
                    "viber_balance": _balance_text(amounts.get(BalanceKind.VIBER, Decimal(0))),
                }
            ],
        }

    return answer(await call.read(work))


@command("getLimit")
async def get_limit(call: Call) -> Response:
    """How many one-part SMS the balance (plus credit) pays for at the plan's dearest rate:
    a floor that holds whatever the destinations."""

    def work(session: Session) -> int:
        account = get_account(session, call.account_id)
        available = ledger.balance(session, account.id) + account.credit_limit
        rates = list_rates(session, account.price_plan_id)
        if not rates or available <= 0:
            return 0
        net, tax = charge_for(1, max(r.price for r in rates), account.tax_rate)
        return int(available // (net + tax)) if net + tax > 0 else _NO_LIMIT

    return answer({"limit": await call.read(work)})


@command("getAlphanames")
async def get_alphanames(call: Call) -> Response:
    def work(session: Session) -> dict[str, str]:
        senders = list_senders(session, call.account_id, approved_only=True)
        names = {"0": f"System name ({senders[0].name})"} if senders else {}
        names.update({str(s.id): s.name for s in senders})
        return names

    return answer(await call.read(work))


@command("getAlphanameId")
async def get_alphaname_id(call: Call) -> Response:
    name = call.require("name")

    def work(session: Session) -> int:
        for sender in list_senders(session, call.account_id, approved_only=True):
            if sender.name == name:
                return sender.id
        raise NotFound(
            f"no approved alpha name {name[:20]!r} on this account", code="sender_not_found"
        )

    return answer({"id": await call.read(work)})
