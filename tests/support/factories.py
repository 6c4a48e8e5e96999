"""Build accounts, plans and senders through the same services operators use."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from smsgate.accounts.service import create_account, create_token
from smsgate.db import Database
from smsgate.pricing.service import parse_rate_csv, replace_rates
from smsgate.senders.service import request_sender

DEFAULT_RATES = """mcc,mnc,country,network,price
247,,Latvia,,0.04
247,01,Latvia,LMT,0.03
257,,Belarus,,0.06
434,,Uzbekistan,,0.05
238,,Denmark,,0.045
250,,Russia,,0.07
"""


@dataclass(frozen=True, slots=True)
class Customer:
    account_id: int
    token: str
    sender: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_plan(db: Database, name: str = "standard", csv_text: str = DEFAULT_RATES) -> str:
    with db.write() as session:
        replace_rates(session, name, list(parse_rate_csv(csv_text)))
    return name


def make_customer(
    db: Database,
    *,
    balance: Decimal = Decimal("10"),
    plan: str | None = "standard",
    sender: str = "ACME",
    name: str = "Acme",
    tax_rate: Decimal = Decimal(0),
    credit_limit: Decimal = Decimal(0),
    timezone: str = "UTC",
) -> Customer:
    with db.write() as session:
        account = create_account(
            session,
            name,
            balance=balance,
            plan=plan,
            tax_rate=tax_rate,
            timezone=timezone,
            credit_limit=credit_limit,
        )
        request_sender(session, account.id, sender, approved=True)
        _, token = create_token(session, account.id)
    return Customer(account.id, token, sender)
