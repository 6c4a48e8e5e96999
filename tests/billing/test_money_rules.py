"""Refund policy, suspension, cost per message and the margin report, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from smsgate.accounts.models import Account, AccountStatus
from smsgate.billing import ledger
from smsgate.billing.margins import MarginGroup, margin_report
from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.config import Settings
from smsgate.connectors.base import Outcome, Receipt, SubmitResult
from smsgate.db import Database
from smsgate.dispatch.outbox import apply_receipts, claim, record_submits
from smsgate.dispatch.retry import RetryPolicy
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.messaging.status import MessageStatus as S
from smsgate.pricing.models import ConnectorCostPlan, PricePlan
from tests.support.factories import make_customer, make_plan

LEASE = timedelta(seconds=30)
RETRY = RetryPolicy(1, 10)


def _send(db: Database, settings: Settings, account_id: int, sender: str, n: int) -> list[int]:
    accepted = SendService(db, settings).send_now(
        SendRequest(
            account_id=account_id,
            recipients=[f"+3712612{i:04d}" for i in range(n)],
            text="hi",
            sender=sender,
        )
    )
    return [m.id for m in accepted.messages]


def _deliver_all(db: Database, status: S, connector: str = "sim") -> None:
    now = datetime.now(UTC)
    with db.write() as s:
        claimed = claim(s, "w", 100, now, LEASE)
        record_submits(
            s,
            "w",
            connector,
            claimed,
            [SubmitResult(c.message.id, Outcome.SUBMITTED, (f"u{c.message.id}",)) for c in claimed],
            now,
            RETRY,
        )
    with db.write() as s:
        apply_receipts(
            s, [Receipt(connector, f"u{c.message.id}", status, "x", now) for c in claimed], now
        )


@pytest.mark.parametrize(
    ("plan_policy", "account_policy", "refunded"),
    [
        (False, None, False),
        (True, None, True),
        (True, False, False),
        (False, True, True),
    ],
)
def test_refund_policy_for_undeliverable(
    db: Database,
    settings: Settings,
    plan: str,
    plan_policy: bool,
    account_policy: bool | None,
    refunded: bool,
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    with db.write() as s:
        s.execute(PricePlan.__table__.update().values(refund_undeliverable=plan_policy))
        s.get_one(Account, c.account_id).refund_undeliverable = account_policy
    ids = _send(db, settings, c.account_id, c.sender, 2)
    _deliver_all(db, S.UNDELIVERABLE)
    with db.read() as s:
        messages = [s.get_one(Message, i) for i in ids]
        assert {m.status for m in messages} == {"undeliverable"}
        assert all(m.refunded is refunded for m in messages)
        spent = Decimal(0) if refunded else sum(m.price for m in messages)
        assert ledger.balance(s, c.account_id) == Decimal("1") - spent
        assert ledger.entries_total(s, c.account_id) == ledger.balance(s, c.account_id)


def test_suspended_accounts_messages_wait(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    _send(db, settings, c.account_id, c.sender, 2)
    with db.write() as s:
        s.get_one(Account, c.account_id).status = AccountStatus.SUSPENDED
    with db.write() as s:
        assert claim(s, "w", 10, datetime.now(UTC), LEASE) == []
    with db.write() as s:
        s.get_one(Account, c.account_id).status = AccountStatus.ACTIVE
    with db.write() as s:
        assert len(claim(s, "w", 10, datetime.now(UTC), LEASE)) == 2


def test_cost_is_recorded_and_margins_match_the_ledger(
    db: Database, settings: Settings, plan: str
) -> None:
    make_plan(db, "upstream", "mcc,mnc,country,network,price\n247,,Latvia,,0.01\n")
    with db.write() as s:
        plan_id = s.scalar(select(PricePlan.id).where(PricePlan.name == "upstream"))
        s.add(ConnectorCostPlan(connector="sim", plan_id=plan_id))
    alice = make_customer(db, balance=Decimal("5"), name="Alice")
    bob = make_customer(db, balance=Decimal("5"), name="Bob", tax_rate=Decimal("0.2"))
    _send(db, settings, alice.account_id, alice.sender, 3)
    _send(db, settings, bob.account_id, bob.sender, 2)
    _deliver_all(db, S.DELIVERED)
    rejected = _send(db, settings, alice.account_id, alice.sender, 1)
    now = datetime.now(UTC)
    with db.write() as s:
        claimed = claim(s, "w", 10, now, LEASE)
        record_submits(
            s,
            "w",
            "sim",
            claimed,
            [SubmitResult(rejected[0], Outcome.PERMANENT, error_code="bad")],
            now,
            RETRY,
        )
    since, until = now - timedelta(hours=1), now + timedelta(hours=1)
    with db.read() as s:
        rows = {r.key: r for r in margin_report(s, since, until, MarginGroup.ACCOUNT)}
        for customer in (alice, bob):
            moved = s.scalar(
                select(func.sum(LedgerEntry.amount)).where(
                    LedgerEntry.account_id == customer.account_id,
                    LedgerEntry.entry_type.in_([EntryType.CHARGE, EntryType.REFUND]),
                )
            )
            row = rows[str(customer.account_id)]
            assert row.revenue == -moved
        assert rows[str(alice.account_id)].cost == Decimal("0.03")
        assert rows[str(alice.account_id)].messages == 4
        by_connector = margin_report(s, since, until, MarginGroup.CONNECTOR)
        assert sum(r.revenue for r in by_connector) == sum(r.revenue for r in rows.values())
        assert {r.key for r in margin_report(s, since, until, MarginGroup.DESTINATION)}
