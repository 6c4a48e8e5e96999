"""Many sends at once against a balance that covers only some of them."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from smsgate.billing import ledger
from smsgate.db import Database
from tests.support.factories import make_customer, make_plan

FLAT = "mcc,mnc,country,network,price\n*,,,,0.10\n"


async def _fire(server: str, headers: dict[str, str], sender: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:

        async def one(n: int) -> int:
            answer = await http.post(
                "/v1/messages",
                headers=headers,
                json={"to": f"+3712612{n:04d}", "text": "race", "sender": sender},
            )
            return answer.status_code

        return await asyncio.gather(*(one(n) for n in range(count)))


@pytest.mark.parametrize(
    ("balance", "limit", "covered", "final"),
    [
        (Decimal("1.00"), Decimal(0), 10, Decimal("0")),
        (Decimal("0.30"), Decimal("0.50"), 8, Decimal("-0.50")),
    ],
)
def test_exactly_the_covered_sends_succeed(
    db: Database, server: str, balance: Decimal, limit: Decimal, covered: int, final: Decimal
) -> None:
    make_plan(db, "flat", FLAT)
    customer = make_customer(db, balance=balance, plan="flat", credit_limit=limit)
    codes = asyncio.run(_fire(server, customer.headers, customer.sender, 40))
    assert codes.count(200) == covered
    assert codes.count(402) == 40 - covered
    with db.read() as session:
        assert ledger.balance(session, customer.account_id) == final
        assert ledger.entries_total(session, customer.account_id) == final
