"""Inbound (MO) messages over SMPP: stored for the owner of the destination, STOP/START keep
the opt-out list, sends to an opted-out number are refused before charging, and the owner's
webhook hears about each one."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.inbound.models import InboundMessageRow, OptOut
from smsgate.routing.service import add_route
from tests.connectors import fake_smsc
from tests.support.factories import make_customer
from tests.support.waiting import wait_for
from tests.webhooks.helpers import signed_by
from tests.webhooks.receiver import Received, Receiver, receiving

NUMBER = "37126123456"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhooks_allow_private": True, "webhooks_idle_seconds": 0.02}
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


class Smsc:
    def __init__(self, server: fake_smsc.FakeSmsc, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    def mo(self, source: str, destination: str, text: str, data_coding: int = 0) -> None:
        self.loop.call_soon_threadsafe(
            self.server.send_mo_from, source, destination, text, data_coding
        )


@pytest.fixture
def smsc() -> Iterator[Smsc]:
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
    yield Smsc(server, loop)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def _inbound(db: Database, source: str, text: str) -> InboundMessageRow | None:
    with db.read() as s:
        return s.scalars(
            select(InboundMessageRow).where(
                InboundMessageRow.source == source, InboundMessageRow.text == text
            )
        ).first()


def _opted_out(db: Database, account_id: int) -> set[str]:
    with db.read() as s:
        return set(s.scalars(select(OptOut.msisdn).where(OptOut.account_id == account_id)))


def _send(client: httpx.Client, headers: dict[str, str], sender: str, to: list[str]) -> Any:
    return client.post(
        "/v1/messages", headers=headers, json={"to": to, "text": "offer", "sender": sender}
    )


def test_stop_start_and_unknown_destination(
    db: Database, client: httpx.Client, smsc: Smsc, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("20"), sender="4546")
    other = make_customer(db, balance=Decimal("20"), sender="ACME", name="Other")
    put = client.put("/v1/webhooks", headers=c.headers, json={"url": receiver.url + "/mo"})
    assert put.status_code == 200, put.text
    secret = put.json()["secret"]
    with db.write() as s:
        add_connector(
            s,
            "carrier",
            "smpp",
            {"host": "127.0.0.1", "port": smsc.server.port, "system_id": "smsgate"},
            "secret",
        )
        add_route(s, "carrier")
    wait_for(lambda: smsc.server.binds, timeout=10)  # the dispatcher reads connectors every 2 s
    time.sleep(2.5)  # and the API the route table

    # STOP (GSM 03.38, punctuation and case as a person types it)
    smsc.mo(NUMBER, "4546", "Stop.")
    row = wait_for(lambda: _inbound(db, NUMBER, "Stop."))
    assert row.account_id == c.account_id and row.destination == "4546"
    assert row.connector == "carrier"
    wait_for(lambda: NUMBER in _opted_out(db, c.account_id))
    assert _opted_out(db, other.account_id) == set()

    with db.read() as s:
        before = ledger.balance(s, c.account_id)
    refused = _send(client, c.headers, c.sender, ["+" + NUMBER])
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "opted_out"
    many = _send(client, c.headers, c.sender, ["+37126123457", "+" + NUMBER])
    assert many.status_code == 422 and many.json()["code"] == "opted_out"
    assert "+" + NUMBER in many.json()["detail"] and "37126123457" not in many.json()["detail"]
    with db.read() as s:
        assert ledger.balance(s, c.account_id) == before
    # another account's list is its own
    assert _send(client, other.headers, other.sender, ["+" + NUMBER]).status_code == 200

    # STOP in Russian, UCS-2, and in Uzbek with a modifier-letter apostrophe
    smsc.mo("37126123458", "+4546", "СТОП пожалуйста", 8)
    smsc.mo("998901234567", "4546", "toʻxtat", 8)
    wait_for(lambda: {"37126123458", "998901234567"} <= _opted_out(db, c.account_id))

    # START takes the number off the list again
    smsc.mo(NUMBER, "4546", "start")
    wait_for(lambda: NUMBER not in _opted_out(db, c.account_id))
    again = _send(client, c.headers, c.sender, ["+" + NUMBER])
    assert again.status_code == 200, again.text

    # nobody owns 9999: kept for the operator, no keyword applied
    smsc.mo("37126123459", "9999", "STOP")
    unowned = wait_for(lambda: _inbound(db, "37126123459", "STOP"))
    assert unowned.account_id is None

    # the owner's webhook (its default URL, which also gets its sends' status changes): one
    # signed message.inbound per message to it
    def inbound_calls() -> list[Received] | None:
        found = [
            c for c in receiver.calls("/mo") if c.headers["x-smsgate-event"] == "message.inbound"
        ]
        return found if len(found) >= 4 else None

    calls = wait_for(inbound_calls)
    time.sleep(0.3)
    assert len(inbound_calls() or []) == 4
    events = [json.loads(call.body) for call in calls]
    assert all(signed_by(secret, call) for call in calls)
    first = next(e for e in events if e["text"] == "Stop.")
    assert first["event"] == "message.inbound" and first["from"] == NUMBER
    assert first["to"] == "4546" and first["keyword"] == "opt_out"
    assert first["inbound_id"] == row.id
    assert {e["keyword"] for e in events} == {"opt_out", "opt_in"}
    assert not any(e["from"] == "37126123459" for e in events)
