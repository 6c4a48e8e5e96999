"""smsgate against an SMSC it shares no code with: node-smpp from the npm registry, on loopback.

The default suite sends 500 messages per end-to-end case; ``-m slow`` runs the 10,000 the
issue asks for (see CONTRIBUTING.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.billing.models import LedgerEntry
from smsgate.config import Settings
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.messaging.status import FINAL
from smsgate.routing.service import add_route
from smsgate.webhooks.models import WebhookDelivery
from tests.support.factories import Customer, make_customer
from tests.support.npm_smsc import NpmSmsc, running_smsc
from tests.support.waiting import wait_for
from tests.webhooks.helpers import docs_verifier
from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhooks_allow_private": True,
            "webhooks_idle_seconds": 0.02,
            "webhooks_retry_base_seconds": 0.05,
            "webhooks_retry_max_seconds": 0.2,
            "webhooks_concurrency": 64,
            "webhooks_batch": 500,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def _connect(db: Database, smsc: NpmSmsc, **options: object) -> None:
    """An smpp connector to the npm SMSC and a route sending everything to it."""
    with db.write() as s:
        add_connector(
            s,
            "npm",
            "smpp",
            {"host": "127.0.0.1", "port": smsc.port, "system_id": "smsgate", **options},
            "secret",
        )
        add_route(s, "npm")


def _count(db: Database, *where: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(*where)) or 0)


def test_messages_reach_the_npm_smsc(db: Database, client: httpx.Client, npm_smpp: Path) -> None:
    c = make_customer(db, balance=Decimal("20"))
    with running_smsc(npm_smpp) as smsc:
        _connect(db, smsc, window=20)
        time.sleep(2.5)  # the dispatcher and the API read connectors and routes every 2 s
        numbers = [f"+3712612{n:04d}" for n in range(30)]
        sent = client.post(
            "/v1/messages",
            headers=c.headers,
            json={"to": numbers, "text": "via node-smpp", "sender": c.sender},
        )
        assert sent.status_code == 200, sent.text
        long = client.post(
            "/v1/messages",
            headers=c.headers,
            json={"to": "+37126129999", "text": "long " * 60, "sender": c.sender},
        )
        assert long.status_code == 200, long.text
        ids = [m["id"] for m in sent.json()["messages"]] + [long.json()["messages"][0]["id"]]
        wait_for(
            lambda: _count(db, Message.id.in_(ids), Message.status == "delivered") == len(ids),
            timeout=30,
        )
        counters = smsc.stats()
    assert counters["submits"] == 30 + 2  # the long message went as two parts
    assert counters["receipts"] == counters["submits"]
    with db.read() as s:
        assert set(s.scalars(select(Message.connector).where(Message.id.in_(ids)))) == {"npm"}
        assert ledger.balance(s, c.account_id) == ledger.entries_total(s, c.account_id)


def _send_and_settle(
    db: Database,
    client: httpx.Client,
    receiver: Receiver,
    smsc: NpmSmsc,
    c: Customer,
    size: int,
    timeout: float,
) -> tuple[int, Decimal]:
    """One sending of ``size`` messages; waits until every message is final and every webhook
    of a final status has reached the receiver. Returns the sending id and its cost."""
    hook = client.put("/v1/webhooks", headers=c.headers, json={"url": f"{receiver.url}/hooks"})
    assert hook.status_code == 200, hook.text
    secret = hook.json()["secret"]
    assert secret
    numbers = [f"+3712{n:07d}" for n in range(size)]
    made = client.post(
        "/v1/sendings",
        headers=c.headers,
        json={"recipients": numbers, "text": "e2e via node-smpp", "sender": c.sender},
    )
    assert made.status_code == 201, made.text
    sending_id, cost = made.json()["id"], Decimal(made.json()["cost"])
    final = [str(s) for s in FINAL]
    started = time.monotonic()
    wait_for(
        lambda: _count(db, Message.sending_id == sending_id, Message.status.in_(final)) == size,
        timeout=timeout,
        interval=0.5,
    )
    print(f"\n{size} messages final {time.monotonic() - started:.1f} s after the sending")

    def hooks_done() -> bool:
        with db.read() as s:
            open_ = s.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.account_id == c.account_id)
                .where(WebhookDelivery.status != "delivered")
            )
        return open_ == 0

    wait_for(hooks_done, timeout=timeout, interval=0.5)

    verify = docs_verifier()
    calls = receiver.calls("/hooks")
    bad = [
        call
        for call in calls
        if not verify(
            secret,
            call.body,
            call.headers["x-smsgate-timestamp"],
            call.headers["x-smsgate-signature"],
        )
    ]
    assert not bad, f"{len(bad)} of {len(calls)} webhooks without a valid signature"
    events = [json.loads(call.body) for call in calls]
    delivered = {e["message_id"] for e in events if e["status"] == "delivered"}
    submitted = {e["message_id"] for e in events if e["status"] == "submitted"}
    with db.read() as s:
        ids = set(s.scalars(select(Message.id).where(Message.sending_id == sending_id)))
    assert delivered == ids, f"{len(ids - delivered)} messages without a delivered webhook"
    assert submitted == ids
    return sending_id, cost


def _ledger_consistent(db: Database, c: Customer, opening: Decimal, cost: Decimal) -> None:
    with db.read() as s:
        balance = ledger.balance(s, c.account_id)
        charges = s.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.account_id == c.account_id, LedgerEntry.entry_type == "charge"
            )
        )
        assert balance == ledger.entries_total(s, c.account_id)
        assert -Decimal(charges or 0) == cost
        assert balance == opening - cost


SIZES = [500, pytest.param(10_000, marks=pytest.mark.slow, id="10000")]


@pytest.mark.parametrize("size", SIZES)
def test_sending_all_delivered_with_signed_webhooks(
    db: Database,
    client: httpx.Client,
    receiver: Receiver,
    npm_smpp: Path,
    size: int,
) -> None:
    opening = Decimal(size) * Decimal("0.05")
    c = make_customer(db, balance=opening)
    with running_smsc(npm_smpp) as smsc:
        _connect(db, smsc, binds=2, window=50)
        time.sleep(2.5)
        started = time.monotonic()
        sending_id, cost = _send_and_settle(
            db, client, receiver, smsc, c, size, timeout=60 + size / 50
        )
        elapsed = time.monotonic() - started
        counters = smsc.stats()
    print(f"\n{size} messages delivered, webhooks received in {elapsed:.1f} s ({counters})")
    assert _count(db, Message.sending_id == sending_id, Message.status == "delivered") == size
    assert counters["submits"] == size and counters["receipts"] == size
    _ledger_consistent(db, c, opening, cost)


@pytest.mark.parametrize("size", SIZES)
def test_sending_survives_dropped_connections(
    db: Database,
    client: httpx.Client,
    receiver: Receiver,
    npm_smpp: Path,
    size: int,
) -> None:
    opening = Decimal(size) * Decimal("0.05")
    c = make_customer(db, balance=opening)
    drop_every = 1.0 if size <= 1_000 else 3.0
    with running_smsc(npm_smpp, drop_every=drop_every) as smsc:
        _connect(db, smsc, binds=2, window=50, reconnect_min=0.2, reconnect_max=1.0)
        time.sleep(2.5)
        started = time.monotonic()
        # 10-36 s here; a minute or more when messages without a bound connector were looked
        # at again in step with the drops (dispatch/dispatcher.py no_connector_wait)
        sending_id, cost = _send_and_settle(
            db, client, receiver, smsc, c, size, timeout=45 + size / 50
        )
        elapsed = time.monotonic() - started
        counters = smsc.stats()
    print(f"\n{size} messages final with drops in {elapsed:.1f} s ({counters})")
    assert counters["drops"] >= 1
    # Store and forward: the SMSC keeps every receipt until a bind takes it, so none is lost
    # and every message ends delivered (a submit whose answer was cut off is sent again:
    # the SMSC may count more submits than messages; at-least-once, docs/connectors.md).
    assert _count(db, Message.sending_id == sending_id, Message.status == "delivered") == size
    assert counters["submits"] >= size
    _ledger_consistent(db, c, opening, cost)
