"""Webhooks end to end: real sends over HTTP, a real receiver on loopback, both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.db import Database
from smsgate.webhooks.models import WebhookDelivery
from tests.support.factories import Customer, make_customer
from tests.support.waiting import wait_for
from tests.webhooks.conftest import REJECTED, UNDELIVERABLE
from tests.webhooks.helpers import deliveries, events_for, rotate, signed_by
from tests.webhooks.receiver import Receiver


def _send(client: httpx.Client, c: Customer, to: str, **extra: object) -> dict[str, Any]:
    answer = client.post(
        "/v1/messages",
        headers=c.headers,
        json={"to": to, "text": "hello", "sender": c.sender, **extra},
    )
    assert answer.status_code == 200, answer.text
    message: dict[str, Any] = answer.json()["messages"][0]
    return message


def _settled(
    client: httpx.Client, c: Customer, count: int, **params: object
) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries match and none is pending any more."""

    def probe() -> list[dict[str, Any]] | None:
        found = deliveries(client, c, **params)
        done = len(found) == count and all(d["status"] != "pending" for d in found)
        return found if done else None

    return wait_for(probe)


def _ledger_consistent(db: Database, c: Customer, expected: Decimal) -> None:
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == ledger.entries_total(session, c.account_id)
        assert ledger.balance(session, c.account_id) == expected


def test_native_send_reports_submitted_then_delivered(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    secret = rotate(client, c)
    message = _send(client, c, "+37126123456", callback_url=f"{receiver.url}/native")

    submitted, delivered = events_for(receiver, "/native", message["id"], 2)
    assert [submitted["status"], delivered["status"]] == ["submitted", "delivered"]
    for event in (submitted, delivered):
        assert event["event"] == "message.status"
        assert event["request_id"] == message["request_id"]
        assert event["to"] == "37126123456" and event["sending_id"] is None
        assert event["surface"] == "native" and event["surface_status"] == event["status"]
        assert event["error_code"] is None
        assert event["created_at"] and event["submitted_at"] and event["occurred_at"]
    assert submitted["done_at"] is None and delivered["done_at"] == delivered["occurred_at"]
    assert all(signed_by(secret, call) for call in receiver.calls("/native"))

    logged = _settled(client, c, 2, message_id=message["id"])
    assert {d["status"] for d in logged} == {"delivered"}
    for d in logged:
        assert d["url"] == f"{receiver.url}/native" and d["message_id"] == message["id"]
        assert d["last_status_code"] == 200 and d["delivered_at"] and d["next_attempt_at"] is None
        assert [a["status_code"] for a in d["attempts"]] == [200]
        assert d["attempts"][0]["error"] is None and d["attempts"][0]["duration_ms"] >= 0
    assert {json.dumps(d["payload"], sort_keys=True) for d in logged} == {
        json.dumps(e, sort_keys=True) for e in (submitted, delivered)
    }
    _ledger_consistent(db, c, Decimal("1") - Decimal(message["cost"]))


def test_devsms_send_and_the_account_default_url(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, sender="4546", balance=Decimal("1"))
    put = client.put("/v1/webhooks", headers=c.headers, json={"url": f"{receiver.url}/default"})
    assert put.status_code == 200, put.text
    secret = put.json()["secret"]
    assert put.json()["url"] == f"{receiver.url}/default" and secret.startswith("whsec_")
    # the secret is shown once only
    shown = client.get("/v1/webhooks", headers=c.headers).json()
    assert shown == {"url": f"{receiver.url}/default", "has_secret": True, "secret": None}
    again = client.put("/v1/webhooks", headers=c.headers, json={"url": f"{receiver.url}/default"})
    assert again.json()["secret"] is None

    # a devsms.uz send with its own callback_url: devsms.uz's words, not the default URL
    sent = client.post(
        "/api/send_sms.php",
        headers=c.headers,
        json={"phone": "998901234567", "message": "Salom", "callback_url": f"{receiver.url}/uz"},
    )
    assert sent.status_code == 200, sent.text
    sms_id = sent.json()["data"]["sms_id"]
    submitted, delivered = events_for(receiver, "/uz", sms_id, 2)
    assert (submitted["surface"], submitted["surface_status"]) == ("devsms", "ACCEPTED")
    assert (delivered["status"], delivered["surface_status"]) == ("delivered", "DELIVERED")
    assert delivered["request_id"] == sent.json()["data"]["request_id"]

    # an undeliverable one through devsms.uz, to the default URL (no callback_url)
    lost = client.post(
        "/api/send_sms.php",
        headers=c.headers,
        json={"phone": UNDELIVERABLE, "message": "Salom"},
    )
    lost_id = lost.json()["data"]["sms_id"]
    _, final = events_for(receiver, "/default", lost_id, 2)
    assert (final["status"], final["surface_status"]) == ("undeliverable", "UNDELIVERABLE")
    assert all(signed_by(secret, call) for call in receiver.calls())
    assert not [c for c in receiver.calls("/default") if json.loads(c.body)["message_id"] == sms_id]

    # removing the default URL: nothing more is queued for sends without callback_url
    cleared = client.put("/v1/webhooks", headers=c.headers, json={"url": None})
    assert cleared.json() == {"url": None, "has_secret": True, "secret": None}


def test_failing_receiver_is_retried_and_replay_sends_again(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    rotate(client, c)
    receiver.script("/flaky", 500, 500)
    # refused by the simulator on submit: one event only (rejected), refunded
    message = _send(client, c, f"+{REJECTED}", callback_url=f"{receiver.url}/flaky")

    (delivery,) = _settled(client, c, 1, message_id=message["id"])
    assert delivery["status"] == "delivered" and delivery["payload"]["status"] == "rejected"
    assert delivery["payload"]["error_code"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["error"] for a in delivery["attempts"]] == ["HTTP 500: boom", "HTTP 500: boom", None]
    assert delivery["last_status_code"] == 200 and delivery["last_error"] is None
    calls = receiver.calls("/flaky")
    assert len(calls) == 3
    assert {c.headers["x-smsgate-delivery"] for c in calls} == {str(delivery["id"])}
    assert len({c.body for c in calls}) == 1

    replayed = client.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay", headers=c.headers)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["id"] == delivery["id"]
    wait_for(lambda: len(receiver.calls("/flaky")) == 4)
    assert receiver.calls("/flaky")[-1].body == calls[0].body
    after = wait_for(
        lambda: (d := deliveries(client, c, message_id=message["id"])[0])["attempts"][3:] and d
    )
    assert after["status"] == "delivered"
    assert [a["status_code"] for a in after["attempts"]] == [500, 500, 200, 200]
    _ledger_consistent(db, c, Decimal("1"))  # rejected: charged, then refunded


def test_cancelled_message_is_reported(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    message = _send(
        client, c, "+37126123456", scheduled_at=later, callback_url=f"{receiver.url}/cancel"
    )
    assert message["status"] == "scheduled"
    cancelled = client.post(f"/v1/messages/{message['id']}/cancel", headers=c.headers)
    assert cancelled.status_code == 200, cancelled.text
    (event,) = events_for(receiver, "/cancel", message["id"], 1)
    assert (event["status"], event["error_code"], event["submitted_at"]) == (
        "cancelled",
        "cancelled",
        None,
    )
    _ledger_consistent(db, c, Decimal("1"))


def test_no_url_no_webhook(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"))
    message = _send(client, c, "+37126123456")
    wait_for(
        lambda: (
            client.get(f"/v1/messages/{message['id']}", headers=c.headers).json()["status"]
            == "delivered"
        )
    )
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert deliveries(client, c) == []
    _ledger_consistent(db, c, Decimal("1") - Decimal(message["cost"]))


def test_deliveries_are_scoped_filtered_and_paged(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    other = make_customer(db, name="Other")
    ids = [
        _send(client, c, f"+3712612345{n}", callback_url=f"{receiver.url}/p")["id"]
        for n in range(3)
    ]
    logged = _settled(client, c, 6)
    assert [d["id"] for d in logged] == sorted((d["id"] for d in logged), reverse=True)
    assert {d["message_id"] for d in logged} == set(ids)
    first = deliveries(client, c, limit=4)
    rest = client.get(
        "/v1/webhooks/deliveries",
        headers=c.headers,
        params={"limit": 4, "cursor": str(first[-1]["id"])},
    ).json()
    assert len(first) == 4 and len(rest["deliveries"]) == 2 and rest["next_cursor"] is None
    assert len(deliveries(client, c, status="delivered")) == 6
    assert deliveries(client, c, status="failed") == []
    assert len(deliveries(client, c, message_id=ids[0])) == 2

    assert deliveries(client, other) == []
    foreign = client.post(
        f"/v1/webhooks/deliveries/{logged[0]['id']}/replay", headers=other.headers
    )
    assert foreign.status_code == 404
    assert foreign.headers["content-type"] == "application/problem+json"
    assert foreign.json()["code"] == "delivery_not_found"
    bad = client.get("/v1/webhooks/deliveries", headers=c.headers, params={"status": "lost"})
    assert bad.status_code == 422
    assert client.get("/v1/webhooks").status_code == 401
