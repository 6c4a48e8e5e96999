"""Messages leave over SMPP to a fake SMSC on loopback and come back delivered by receipts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.messaging.models import Message, MessagePart
from smsgate.routing.service import add_route
from tests.connectors import fake_smsc
from tests.support.factories import make_customer
from tests.support.waiting import wait_for


@pytest.fixture
def smsc() -> Iterator[fake_smsc.FakeSmsc]:
    """A happy fake SMSC (text receipts) on its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    server = fake_smsc.happy("text")
    ready = threading.Event()
    stop = asyncio.Event()

    async def run() -> None:
        async with server:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield server
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_send_through_smpp_and_receive_receipts(
    db: Database, client: httpx.Client, smsc: fake_smsc.FakeSmsc
) -> None:
    c = make_customer(db, balance=Decimal("20"))
    with db.write() as s:
        add_connector(
            s,
            "carrier",
            "smpp",
            {"host": "127.0.0.1", "port": smsc.port, "system_id": "smsgate", "window": 20},
            "secret",
        )
        add_route(s, "carrier")
    time.sleep(2.5)  # the dispatcher and the API read connectors and routes every 2 s
    numbers = [f"+3712612{n:04d}" for n in range(40)]
    sent = client.post(
        "/v1/messages",
        headers=c.headers,
        json={"to": numbers, "text": "over smpp", "sender": c.sender},
    )
    assert sent.status_code == 200, sent.text
    long = client.post(
        "/v1/messages",
        headers=c.headers,
        json={"to": "+37126129999", "text": "x" * 200, "sender": c.sender},
    )
    ids = [m["id"] for m in sent.json()["messages"]] + [long.json()["messages"][0]["id"]]

    def all_delivered() -> bool:
        with db.read() as s:
            done = s.scalar(
                select(func.count()).where(Message.id.in_(ids), Message.status == "delivered")
            )
        return done == len(ids)

    wait_for(all_delivered, timeout=30)
    with db.read() as s:
        assert s.scalar(select(func.count()).where(MessagePart.message_id == ids[-1])) == 2
        assert set(s.scalars(select(Message.connector).where(Message.id.in_(ids)))) == {"carrier"}
        assert ledger.balance(s, c.account_id) == ledger.entries_total(s, c.account_id)
