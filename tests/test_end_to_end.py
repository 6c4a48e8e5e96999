"""A message sent over real HTTP is charged, leaves through the simulator and is delivered."""

from __future__ import annotations

from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.support.waiting import wait_for


def test_send_deliver_and_ledger_balances(db: Database, client: httpx.Client) -> None:
    customer = make_customer(db, balance=Decimal("1.00"))
    answer = client.post(
        "/v1/messages",
        headers=customer.headers,
        json={"to": "+371 2612 3456", "text": "Hello from smsgate", "sender": customer.sender},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (message,) = body["messages"]
    assert message["status"] == "queued"
    assert message["parts"] == 1
    assert message["to"] == "37126123456"
    assert message["cost"] == "0.04" or message["cost"] == "0.03"
    assert Decimal(body["balance"]) == Decimal("1.00") - Decimal(message["cost"])

    def delivered() -> dict[str, object] | None:
        got = client.get(f"/v1/messages/{message['id']}", headers=customer.headers).json()
        return got if got["status"] == "delivered" else None

    final = wait_for(delivered)
    assert final["submitted_at"] and final["done_at"]
    with db.read() as session:
        assert ledger.balance(session, customer.account_id) == ledger.entries_total(
            session, customer.account_id
        )
        assert ledger.balance(session, customer.account_id) == Decimal("1.00") - Decimal(
            message["cost"]
        )
    balance = client.get("/v1/balance", headers=customer.headers).json()
    assert Decimal(balance["balance"]) == Decimal("1.00") - Decimal(message["cost"])


def test_sending_to_many_with_undeliverable_numbers(db: Database, client: httpx.Client) -> None:
    customer = make_customer(db, balance=Decimal("5"))
    numbers = [f"+3712612{n:04d}" for n in range(20)]
    made = client.post(
        "/v1/sendings",
        headers=customer.headers,
        json={"recipients": numbers, "text": "Campaign", "sender": customer.sender},
    )
    assert made.status_code == 201, made.text
    sending_id = made.json()["id"]
    assert made.json()["recipients"] == 20

    def completed() -> dict[str, object] | None:
        got = client.get(f"/v1/sendings/{sending_id}", headers=customer.headers).json()
        return got if got["status"] == "completed" else None

    done = wait_for(completed)
    assert done["messages_by_status"] == {"delivered": 20}
    page = client.get(
        "/v1/messages", headers=customer.headers, params={"sending_id": sending_id, "limit": 15}
    ).json()
    assert len(page["messages"]) == 15 and page["next_cursor"]
    rest = client.get(
        "/v1/messages",
        headers=customer.headers,
        params={"sending_id": sending_id, "limit": 15, "cursor": page["next_cursor"]},
    ).json()
    assert len(rest["messages"]) == 5 and rest["next_cursor"] is None
    ids = {m["id"] for m in page["messages"]} | {m["id"] for m in rest["messages"]}
    assert len(ids) == 20
