"""The refund policy over real HTTP: set by the operator, applied when receipts come back."""

from __future__ import annotations

from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer, make_plan
from tests.support.server import running_server
from tests.support.waiting import wait_for
from tests.surfaces.test_admin_support import make_operator


def test_operator_sets_refund_policy_and_undeliverable_messages_follow_it(
    db: Database, settings: Settings
) -> None:
    make_plan(db)
    generous = make_customer(db, balance=Decimal("1"), name="Generous")
    strict = make_customer(db, balance=Decimal("1"), name="Strict")
    op = make_operator(db)
    failing = settings.model_copy(update={"simulator_undeliverable": "^3712699"})
    with running_server(failing) as url, httpx.Client(base_url=url, timeout=30) as http:
        patched = http.patch(
            f"/v1/admin/accounts/{generous.account_id}",
            headers=op.headers,
            json={"refund_undeliverable": True},
        )
        assert patched.status_code == 200, patched.text
        ids = {}
        for customer in (generous, strict):
            sent = http.post(
                "/v1/messages",
                headers=customer.headers,
                json={
                    "to": ["+37126990001", "+37126123456"],
                    "text": "x",
                    "sender": customer.sender,
                },
            )
            assert sent.status_code == 200, sent.text
            ids[customer.account_id] = [m["id"] for m in sent.json()["messages"]]

        def final(customer_id: int, headers: dict[str, str]) -> list[str] | None:
            statuses = [
                http.get(f"/v1/messages/{i}", headers=headers).json()["status"]
                for i in ids[customer_id]
            ]
            return statuses if "queued" not in statuses and "submitted" not in statuses else None

        assert wait_for(lambda: final(generous.account_id, generous.headers)) == [
            "undeliverable",
            "delivered",
        ]
        assert wait_for(lambda: final(strict.account_id, strict.headers)) == [
            "undeliverable",
            "delivered",
        ]
        failed_price, delivered_price = (
            Decimal(http.get(f"/v1/messages/{i}", headers=strict.headers).json()["cost"])
            for i in ids[strict.account_id]
        )
    with db.read() as session:
        assert ledger.balance(session, generous.account_id) == Decimal("1") - delivered_price
        assert ledger.balance(session, strict.account_id) == (
            Decimal("1") - delivered_price - failed_price
        )
        for customer in (generous, strict):
            assert ledger.balance(session, customer.account_id) == ledger.entries_total(
                session, customer.account_id
            )
