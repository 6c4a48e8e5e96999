"""Webhooks reach public addresses only, whatever a name resolves to, and never by redirect.

At acceptance smsgate refuses literal private addresses and ``localhost`` without DNS
(tests/webhooks/test_ssrf.py). Names are checked where the delivery connects: here a name
that a test resolver maps to loopback, a name with one public and one private address, and
``localhost`` itself (resolved by the machine) stored while private addresses were allowed:
each delivery is refused before any connection, logged as refused, and failed for good.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.dispatch.dispatcher import Dispatcher
from smsgate.webhooks import service
from smsgate.webhooks.models import WebhookDelivery
from smsgate.webhooks.ssrf import GuardedTransport, system_resolver
from smsgate.webhooks.worker import WebhookWorker
from tests.support.factories import make_customer
from tests.support.server import running_server
from tests.support.waiting import wait_for
from tests.webhooks.receiver import Receiver, receiving

# Names only this test's resolver knows; everything else goes to the system's.
NAMES = {
    "hooks.customer.test": ["127.0.0.1"],
    "mixed.customer.test": ["93.184.215.14", "127.0.0.1"],  # public first: still refused
}


async def resolver(host: str, port: int) -> list[str]:
    return NAMES[host] if host in NAMES else await system_resolver(host, port)


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhooks_allow_private": False,
            "webhooks_idle_seconds": 0.02,
            "webhooks_retry_base_seconds": 0.05,
            "webhooks_retry_max_seconds": 0.2,
        }
    )


def _deliveries(db: Database) -> list[WebhookDelivery]:
    with db.read() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def _work(
    db: Database, settings: Settings, done: Callable[[], bool]
) -> list[MutableMapping[str, Any]]:
    """Run a dispatcher and a strict webhook worker (with the test resolver) until ``done``;
    returns what they logged."""

    async def run() -> None:
        dispatcher = Dispatcher(db, settings)
        transport = GuardedTransport(allow_private=False, max_connections=4, resolve=resolver)
        worker = WebhookWorker(db, settings, transport=transport)
        await dispatcher.start()
        await worker.start()
        try:
            for _ in range(600):
                if await asyncio.to_thread(done):
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the deliveries did not end")
        finally:
            await worker.stop()
            await dispatcher.stop()

    with structlog.testing.capture_logs() as logs:
        asyncio.run(run())
    return logs


def test_names_resolving_to_private_addresses_are_refused_when_connecting(
    db: Database, strict: Settings, plan: str, receiver: Receiver
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    named = make_customer(db, balance=Decimal("1"))
    older = make_customer(db, balance=Decimal("1"), name="Older")
    with db.write() as session:  # set while the operator allowed private addresses
        service.set_url(
            session, older.account_id, f"http://localhost:{port}/old", allow_private=True
        )
    with running_server(strict, dispatch=False) as url, httpx.Client(base_url=url) as client:
        for host in NAMES:
            sent = client.post(
                "/v1/messages",
                headers=named.headers,
                json={
                    "to": "+37126123456",
                    "text": "x",
                    "sender": named.sender,
                    "callback_url": f"http://{host}:{port}/{host}",
                },
            )
            assert sent.status_code == 200, sent.text  # a name: no DNS at acceptance
        sent = client.post(
            "/v1/messages",
            headers=older.headers,
            json={"to": "+37126123457", "text": "x", "sender": older.sender},
        )
        assert sent.status_code == 200, sent.text
    # submitted and delivered: two deliveries per message, every one failed at once
    logs = _work(db, strict, lambda: sum(d.status == "failed" for d in _deliveries(db)) == 6)
    deliveries = _deliveries(db)
    assert len(deliveries) == 6 and {d.attempts for d in deliveries} == {1}
    reasons = {d.url.split("/")[2].split(":")[0]: d.last_error for d in deliveries}
    assert reasons == {
        "hooks.customer.test": "refused: hooks.customer.test resolves to 127.0.0.1, "
        "a loopback address",
        "mixed.customer.test": "refused: mixed.customer.test resolves to 127.0.0.1, "
        "a loopback address",
        "localhost": f"refused: localhost resolves to {_localhost()}, a loopback address",
    }
    refused = [e for e in logs if e["event"] == "webhook attempt failed"]
    assert len(refused) == 6 and all(e["error"].startswith("refused: ") for e in refused)
    assert receiver.calls() == []


def _localhost() -> str:
    """The first address the machine gives for ``localhost`` (127.0.0.1 or ::1)."""
    return asyncio.run(system_resolver("localhost", 80))[0]


# --- redirects ---------------------------------------------------------------------------


@contextmanager
def redirecting(to: str) -> Iterator[tuple[str, list[str]]]:
    """A receiver that answers every POST with 302 to ``to``; yields its URL and the paths
    it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}/hook", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def test_redirects_are_not_followed(
    db: Database, settings: Settings, plan: str, receiver: Receiver
) -> None:
    """Not even to an address the settings allow: a redirect is an answer, not a delivery, so
    no redirect can lead a delivery to the loopback, the metadata service or the admin API."""
    loose = settings.model_copy(
        update={"webhooks_allow_private": True, "webhooks_idle_seconds": 0.02}
    )
    c = make_customer(db, balance=Decimal("1"))
    target = f"{receiver.url}/internal"
    with redirecting(target) as (hook, seen), running_server(loose) as url:
        with httpx.Client(base_url=url, headers=c.headers) as client:
            assert client.put("/v1/webhooks", json={"url": hook}).is_success
            sent = client.post(
                "/v1/messages", json={"to": "+37126123456", "text": "x", "sender": c.sender}
            )
            assert sent.status_code == 200, sent.text

            def attempted() -> bool:
                return all(d.attempts >= 1 for d in _deliveries(db)) and len(_deliveries(db)) == 2

            wait_for(attempted, timeout=30)
    assert len(seen) >= 2 and receiver.calls() == []
    for delivery in _deliveries(db):
        assert delivery.last_status_code == 302 and delivery.delivered_at is None
        assert str(delivery.last_error).startswith("HTTP 302")
