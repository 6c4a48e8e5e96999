"""First start on the embedded default: a demo plan, account, approved sender and token."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from smsgate.accounts.models import Account
from smsgate.accounts.service import create_account, create_token
from smsgate.db import Database
from smsgate.pricing.service import ANY_MCC, RateRow, replace_rates
from smsgate.senders.service import request_sender

DEMO_PLAN = "demo"
DEMO_SENDER = "smsgate"


@dataclass(frozen=True, slots=True)
class Demo:
    account_id: int
    token: str
    sender: str


def create_demo(db: Database, balance: Decimal) -> Demo | None:
    """Create the demo data if the database has no account yet; None if it has."""
    with db.write() as session:
        if session.scalar(select(Account.id).limit(1)) is not None:
            return None
        replace_rates(
            session,
            DEMO_PLAN,
            [
                RateRow(ANY_MCC, None, "", "any destination", Decimal("0.05")),
            ],
        )
        account = create_account(session, "Demo", balance=balance, plan=DEMO_PLAN)
        request_sender(session, account.id, DEMO_SENDER, approved=True)
        _, token = create_token(session, account.id, name="demo")
        return Demo(account.id, token, DEMO_SENDER)
