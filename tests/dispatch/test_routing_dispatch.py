"""Connectors and routes from the database drive a running server, without a restart."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.connectors.registry import add_connector, remove_connector
from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.routing.service import add_route
from tests.support.factories import make_customer
from tests.support.waiting import wait_for


def _send(client: httpx.Client, headers: dict[str, str], to: str) -> httpx.Response:
    return client.post(
        "/v1/messages", headers=headers, json={"to": to, "text": "hi", "sender": "ACME"}
    )


def _message(client: httpx.Client, headers: dict[str, str], mid: int) -> dict[str, object]:
    return client.get(f"/v1/messages/{mid}", headers=headers).json()


def test_routes_pick_connectors_and_failover(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("5"))
    with db.write() as s:
        add_connector(s, "lv-sim", "simulator", {"delay": 0.05})
        add_connector(s, "backup", "simulator", {"delay": 0.05})
        add_route(s, "lv-sim", country="LV", priority=10)
        add_route(s, "gone,backup", priority=20)  # "gone" does not exist: fails over
    time.sleep(2.5)  # the routes are read again every 2 s by the API and the dispatcher
    lv = _send(client, c.headers, "+37126123456").json()["messages"][0]
    by = _send(client, c.headers, "+375291234567").json()["messages"][0]

    def delivered(mid: int) -> dict[str, object] | None:
        m = _message(client, c.headers, mid)
        return m if m["status"] == "delivered" else None

    wait_for(lambda: delivered(lv["id"]))
    wait_for(lambda: delivered(by["id"]))
    with db.read() as s:
        assert s.get_one(Message, lv["id"]).connector == "lv-sim"
        assert s.get_one(Message, by["id"]).connector == "backup"


def test_no_matching_route_is_refused_before_charging(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("5"))
    with db.write() as s:
        add_connector(s, "lv-only", "simulator", {"delay": 0.05})
        add_route(s, "lv-only", country="LV")
    time.sleep(2.5)
    refused = _send(client, c.headers, "+375291234567")
    assert refused.status_code == 422
    assert refused.json()["code"] == "no_route"
    with db.read() as s:
        assert ledger.balance(s, c.account_id) == Decimal("5")
    # a matching route whose connector is gone: accepted, then waits (queued) for a connector
    with db.write() as s:
        remove_connector(s, "lv-only")
    time.sleep(2.5)
    waiting = _send(client, c.headers, "+37126123456").json()["messages"][0]
    time.sleep(1.0)
    assert _message(client, c.headers, waiting["id"])["status"] == "queued"


def test_a_transient_failure_fails_over_to_the_next_connector_at_once(
    db: Database, client: httpx.Client
) -> None:
    c = make_customer(db, balance=Decimal("5"))
    with db.write() as s:
        # an HTTP upstream nobody listens on: its submit fails with a network error
        add_connector(s, "unreachable", "devsms", {"base_url": "http://127.0.0.1:9"}, "token")
        add_connector(s, "backup", "simulator", {"delay": 0.05})
        add_route(s, "unreachable,backup")
    time.sleep(2.5)
    sent = _send(client, c.headers, "+37126123456").json()["messages"][0]

    def delivered() -> dict[str, object] | None:
        m = _message(client, c.headers, sent["id"])
        return m if m["status"] == "delivered" else None

    wait_for(delivered, timeout=10)
    with db.read() as s:
        message = s.get_one(Message, sent["id"])
        assert message.connector == "backup"
        assert message.attempts == 1  # failed over within the same attempt, no backoff wait
