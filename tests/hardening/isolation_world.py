"""What the isolation sweep aims at: customer A, who probes, and customer B, whose data A must
never see or change; a suspended account, a revoked token and an operator.

B's data is made the way B would make it, through the API of a running smsgate with its
dispatcher (so B also has delivered messages and webhook deliveries with their attempts),
and B's inbound message through the inbound service, as a connector stores one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Table, select

import smsgate.models  # noqa: F401 (every table in Base.metadata)
from smsgate.accounts import admin
from smsgate.accounts.service import create_token
from smsgate.config import Settings
from smsgate.connectors.base import InboundMessage
from smsgate.db import Base, Database
from smsgate.inbound import service as inbound
from smsgate.inbound.keywords import Keywords
from smsgate.kit.time import utcnow
from smsgate.senders.service import list_senders
from tests.support.factories import Customer, make_customer
from tests.support.server import running_server
from tests.support.waiting import wait_for
from tests.surfaces.test_admin_support import make_operator
from tests.webhooks.receiver import receiving

B_TEXT = "beta-private-text"
B_TEMPLATE = "beta-template-text"
B_INBOUND = "beta-inbound-text"
B_NUMBERS = ("37126000001", "37126000002", "37126000003")
B_OPT_OUT = "37126000009"
B_INBOUND_SOURCE = "37126000077"
SHARED_KEY = "shared-idempotency-key"


@dataclass(frozen=True, slots=True)
class Other:
    """Customer B and the ids of everything B has."""

    account_id: int
    token_id: int
    sender: str
    sender_id: int
    delivered_id: int
    scheduled_id: int
    request_id: str
    sending_id: int
    invoice_id: int
    invoice_number: str
    delivery_id: int
    template_id: int
    password_object_id: int
    send_body: dict[str, Any]  # what B posted with SHARED_KEY
    webhook_url: str

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings of B's that no answer to anyone else may contain."""
        return (
            B_TEXT,
            B_TEMPLATE,
            B_INBOUND,
            B_INBOUND_SOURCE,
            B_OPT_OUT,
            *B_NUMBERS,
            self.request_id,
            self.invoice_number,
            self.invoice_number.replace("/", "\\/"),  # as the Laravel-shaped surfaces write it
            self.webhook_url,
        )


@dataclass(frozen=True, slots=True)
class World:
    a: Customer
    b: Other
    operator: str
    suspended: str  # the token of a suspended account
    revoked: str  # a revoked token of A's

    @property
    def a_token(self) -> str:
        return self.a.token


def build_world(db: Database, settings: Settings) -> World:
    a = make_customer(db, sender="ALPHA", name="Alpha", balance=Decimal("100"))
    b = make_customer(db, sender="BETA", name="Beta", balance=Decimal("100"))
    c = make_customer(db, sender="GAMMA", name="Gamma")
    operator = make_operator(db).headers["Authorization"].removeprefix("Bearer ")
    with db.write() as session:
        admin.suspend(session, c.account_id, actor="tests")
        row, revoked = create_token(session, a.account_id, name="to revoke")
        admin.revoke_token(session, row.id, actor="tests")
    other = _make_b(db, settings, b)
    return World(a, other, operator, c.token, revoked)


def _make_b(db: Database, settings: Settings, b: Customer) -> Other:
    live = settings.model_copy(update={"webhooks_allow_private": True})
    with receiving() as receiver, running_server(live) as url:
        with httpx.Client(base_url=url, headers=b.headers, timeout=30) as client:
            ids = _b_through_the_api(client, f"{receiver.url}/beta-hook")
            wait_for(lambda: _delivered(client, ids["delivered_id"]), timeout=30)
            deliveries = wait_for(lambda: _deliveries(client), timeout=30)
        _b_inbound(db, settings)
    with db.read() as session:
        sender_id = list_senders(session, b.account_id)[0].id
    return Other(
        account_id=b.account_id,
        token_id=_token_id(db, b.account_id),
        sender=b.sender,
        sender_id=sender_id,
        delivery_id=deliveries[0]["id"],
        webhook_url=f"{receiver.url}/beta-hook",
        **ids,
    )


def _b_through_the_api(client: httpx.Client, hook: str) -> dict[str, Any]:
    def ok(answer: httpx.Response) -> Any:
        assert answer.is_success, answer.text
        return answer.json()

    ok(client.put("/v1/webhooks", json={"url": hook}))
    body = {"to": B_NUMBERS[0], "text": B_TEXT, "sender": "BETA"}
    sent = ok(client.post("/v1/messages", json=body, headers={"Idempotency-Key": SHARED_KEY}))
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = ok(
        client.post(
            "/v1/messages",
            json={"to": B_NUMBERS[1], "text": B_TEXT, "sender": "BETA", "scheduled_at": later},
        )
    )
    sending = ok(
        client.post(
            "/v1/sendings",
            json={
                "recipients": [B_NUMBERS[2]],
                "text": B_TEXT,
                "sender": "BETA",
                "scheduled_at": later,
            },
        )
    )
    invoice = ok(client.post("/v1/invoices", json={"amount": "25"}))
    template = ok(client.post("/api/v1/createSmsMessage", data={"message": B_TEMPLATE}))
    password = ok(client.post("/api/v1/createPasswordObject", data={"type_id": "both", "len": "6"}))
    ok(client.post("/v1/opt-outs", json={"msisdn": f"+{B_OPT_OUT}"}))
    return {
        "delivered_id": sent["messages"][0]["id"],
        "request_id": sent["messages"][0]["request_id"],
        "scheduled_id": scheduled["messages"][0]["id"],
        "sending_id": sending["id"],
        "invoice_id": invoice["id"],
        "invoice_number": invoice["number"],
        "template_id": template["message_id"],
        "password_object_id": password["result"]["password_object_id"],
        "send_body": body,
    }


def _delivered(client: httpx.Client, message_id: int) -> bool:
    return bool(client.get(f"/v1/messages/{message_id}").json()["status"] == "delivered")


def _deliveries(client: httpx.Client) -> list[dict[str, Any]] | None:
    found = client.get("/v1/webhooks/deliveries", params={"status": "delivered"}).json()
    rows: list[dict[str, Any]] = found["deliveries"]
    return rows if len(rows) >= 2 else None


def _b_inbound(db: Database, settings: Settings) -> None:
    message = InboundMessage("carrier", B_INBOUND_SOURCE, "BETA", B_INBOUND, utcnow(), "mo-1")
    with db.write() as session:
        stored = inbound.record(session, [message], Keywords.from_settings(settings), utcnow())
    assert stored[0].account_id is not None


def _token_id(db: Database, account_id: int) -> int:
    with db.read() as session:
        rows, _ = admin.list_tokens(session, account_id, limit=1)
    return rows[0].id


# --- what must not change -------------------------------------------------------------------

# Written by the authentication of valid tokens, whoever they belong to.
_VOLATILE = {("api_tokens", "last_used_at")}
# Written by every failed authentication, whoever makes it: the failure limits' counters.
_COUNTERS = {"limit_windows"}


def snapshot(db: Database, account_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that is not account ``account_id``'s, in every table: what A may not change."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in _COUNTERS:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in _VOLATILE]
            query = select(*columns).where(*_not_owned_by(table, account_id))
            rows = session.execute(query.order_by(*table.primary_key.columns)).all()
            tables[table.name] = [tuple(r) for r in rows]
    return tables


def _not_owned_by(table: Table, account_id: int) -> list[Any]:
    if table.name == "accounts":
        return [table.c.id != account_id]
    if "account_id" in table.c:
        return [(table.c.account_id != account_id) | table.c.account_id.is_(None)]
    return []
