"""The native API over real HTTP: answers, errors and isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select

from smsgate.accounts.models import ApiToken
from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.support.server import running_server


def _send(client: httpx.Client, headers: dict[str, str], **body: object) -> httpx.Response:
    return client.post("/v1/messages", headers=headers, json=body)


def _problem(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


def test_auth_is_required(client: httpx.Client) -> None:
    _problem(client.get("/v1/balance"), 401, "unauthenticated")
    _problem(
        client.get("/v1/balance", headers={"Authorization": "Bearer nope"}), 401, "unauthenticated"
    )
    _problem(client.post("/v1/messages", json={}), 401, "unauthenticated")


def test_bad_bodies_are_clear_4xx(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    h = {**c.headers, "content-type": "application/json"}
    _problem(client.post("/v1/messages", headers=h, content=b"{not json"), 422, "malformed_json")
    _problem(
        client.post("/v1/messages", headers=h, content=b'{"to": 5, "text": "x", "sender": "A"}'),
        422,
        "invalid_body",
    )
    _problem(client.post("/v1/messages", headers=h, content=b'{"text": "x"}'), 422, "invalid_body")
    _problem(
        client.post("/v1/messages", headers=h, content="\ud800".encode("utf-8", "surrogatepass")),
        422,
        "malformed_json",
    )
    _problem(_send(client, c.headers, to="12", text="x", sender=c.sender), 422, "invalid_number")
    _problem(
        _send(client, c.headers, to="+37126123456", text="", sender=c.sender), 422, "text_required"
    )
    _problem(
        _send(client, c.headers, to="+37126123456", text="x" * 1531, sender=c.sender),
        422,
        "too_many_parts",
    )
    _problem(
        _send(client, c.headers, to="+37126123456", text="x", sender="OTHER"),
        422,
        "sender_not_approved",
    )
    _problem(
        _send(client, c.headers, to="+37126123456", text="x", sender="a sender name that is long"),
        422,
        "invalid_sender",
    )
    _problem(_send(client, c.headers, to=[], text="x", sender=c.sender), 422, "recipients_required")
    _problem(
        client.get("/v1/messages", headers=c.headers, params={"limit": "many"}),
        422,
        "invalid_request",
    )
    _problem(
        client.get("/v1/messages", headers=c.headers, params={"cursor": "abc"}),
        422,
        "invalid_cursor",
    )
    _problem(client.get("/v1/messages/notanumber", headers=c.headers), 422, "invalid_request")
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("10")


def test_unknown_and_foreign_ids_are_404(db: Database, client: httpx.Client) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    sent = _send(client, alice.headers, to="+37126123456", text="hi", sender=alice.sender).json()
    message_id = sent["messages"][0]["id"]
    sending = client.post(
        "/v1/sendings",
        headers=alice.headers,
        json={
            "recipients": ["+37126123456"],
            "text": "hi",
            "sender": alice.sender,
            "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    ).json()
    assert client.get(f"/v1/messages/{message_id}", headers=alice.headers).status_code == 200
    _problem(
        client.get(f"/v1/messages/{message_id}", headers=bob.headers), 404, "message_not_found"
    )
    _problem(client.get("/v1/messages/999999", headers=alice.headers), 404, "message_not_found")
    _problem(
        client.get(f"/v1/sendings/{sending['id']}", headers=bob.headers), 404, "sending_not_found"
    )
    _problem(
        client.post(f"/v1/sendings/{sending['id']}/cancel", headers=bob.headers),
        404,
        "sending_not_found",
    )
    assert client.get("/v1/messages", headers=bob.headers).json()["messages"] == []
    _problem(client.get("/v1/nothing-here", headers=alice.headers), 404, "unknown_path")


def test_insufficient_balance_refuses_the_whole_send(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("0.05"))
    answer = _send(
        client, c.headers, to=["+37126123456", "+37126123457"], text="x", sender=c.sender
    )
    _problem(answer, 402, "insufficient_balance")
    assert client.get("/v1/messages", headers=c.headers).json()["messages"] == []
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("0.05")


def test_idempotency_key(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"))
    h = {**c.headers, "Idempotency-Key": "order-42"}
    body = {"to": "+37126123456", "text": "once", "sender": c.sender}
    first = client.post("/v1/messages", headers=h, json=body)
    again = client.post("/v1/messages", headers=h, json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    _problem(
        client.post("/v1/messages", headers=h, json={**body, "text": "twice"}),
        422,
        "idempotency_conflict",
    )
    with db.read() as session:
        entries = ledger.list_entries(session, c.account_id, limit=10)
    assert [e.entry_type for e in entries] == ["charge", "topup"]


def test_scheduled_sending_cancel_refunds(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"))
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    made = client.post(
        "/v1/sendings",
        headers=c.headers,
        json={
            "recipients": ["+37126123456", "+37126123457", "+375291234567"],
            "text": "later",
            "sender": c.sender,
            "scheduled_at": later,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "scheduled"
    spent = Decimal(made.json()["cost"])
    assert Decimal(client.get("/v1/balance", headers=c.headers).json()["balance"]) == 1 - spent
    cancelled = client.post(f"/v1/sendings/{made.json()['id']}/cancel", headers=c.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled"] == 3
    assert cancelled.json()["sending"]["status"] == "cancelled"
    assert Decimal(client.get("/v1/balance", headers=c.headers).json()["balance"]) == 1
    _problem(
        client.post(f"/v1/sendings/{made.json()['id']}/cancel", headers=c.headers),
        422,
        "not_cancellable",
    )
    listed = client.get("/v1/messages", headers=c.headers, params={"status": "cancelled"}).json()
    assert len(listed["messages"]) == 3
    ledger_page = client.get("/v1/ledger", headers=c.headers).json()
    assert [e["type"] for e in ledger_page["entries"]] == ["refund", "charge", "topup"]


def test_quote_rates_and_senders(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, tax_rate=Decimal("0.2"))
    q = client.post(
        "/v1/quote",
        headers=c.headers,
        json={"to": ["+37126123456", "+37126123457", "+375291234567"], "text": "Привет"},
    )
    assert q.status_code == 200, q.text
    body = q.json()
    assert body["encoding"] == "ucs2" and body["parts_per_message"] == 1
    assert Decimal(body["total"]) == Decimal(body["subtotal"]) + Decimal(body["tax"])
    assert sum(len(line["numbers"]) for line in body["lines"]) == 3
    assert Decimal(body["tax"]) == Decimal(body["subtotal"]) * Decimal("0.2")
    rates = client.get("/v1/rates", headers=c.headers, params={"mcc": "247"}).json()
    assert {r["mcc"] for r in rates["rates"]} == {"247"} and rates["plan"] == "standard"
    requested = client.post("/v1/senders", headers=c.headers, json={"name": "NEWNAME"})
    assert requested.status_code == 201 and requested.json()["status"] == "pending"
    names = {s["name"]: s["status"] for s in client.get("/v1/senders", headers=c.headers).json()}
    assert names == {c.sender: "approved", "NEWNAME": "pending"}


def test_service_endpoints(client: httpx.Client) -> None:
    assert client.get("/status").json() == ["OK"]
    spec = client.get("/openapi.json").json()
    assert "/v1/messages" in spec["paths"]
    assert "requestBody" in spec["paths"]["/v1/messages"]["post"]
    assert client.get("/docs").status_code == 200
    metrics = client.get("/metrics").text
    assert "smsgate_queue_depth" in metrics
    assert "smsgate_dispatch_latency_seconds" in metrics


def test_statistics_and_ledger_range(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"), timezone="Asia/Tashkent")
    for n in range(3):
        assert (
            _send(client, c.headers, to=f"+3712612345{n}", text="x", sender=c.sender).status_code
            == 200
        )
    stats = client.get("/v1/statistics", headers=c.headers).json()
    assert (
        stats["total"]["messages"] == stats["today"]["messages"] == stats["month"]["messages"] == 3
    )
    assert Decimal(stats["total"]["spent"]) == Decimal("1") - Decimal(
        client.get("/v1/balance", headers=c.headers).json()["balance"]
    )
    assert sum(stats["by_status"].values()) == 3
    assert stats["timezone"] == "Asia/Tashkent"
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        client.get("/v1/ledger", headers=c.headers, params={"since": future}).json()["entries"]
        == []
    )
    assert (
        len(client.get("/v1/ledger", headers=c.headers, params={"since": past}).json()["entries"])
        == 4
    )
    _problem(
        client.get("/v1/ledger", headers=c.headers, params={"since": "2026-01-01T00:00:00"}),
        422,
        "invalid_request",
    )


def test_huge_bodies_are_413_on_every_route(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    small = settings.model_copy(update={"max_body_bytes": 4096})
    big = b'{"recipients": ["' + b"1" * 10_000 + b'"]}'
    with running_server(small) as url, httpx.Client(base_url=url) as http:
        h = {**c.headers, "content-type": "application/json"}
        for path in ("/v1/messages", "/v1/sendings", "/v1/quote"):
            _problem(http.post(path, headers=h, content=big), 413, "body_too_large")

        def chunks() -> Iterator[bytes]:
            yield big[:3000]
            yield big[3000:]

        _problem(http.post("/v1/sendings", headers=h, content=chunks()), 413, "body_too_large")


def test_cancel_one_scheduled_message(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = _send(
        client, c.headers, to="+37126123456", text="x", sender=c.sender, scheduled_at=later
    )
    (message,) = sent.json()["messages"]
    assert message["status"] == "scheduled"
    cancelled = client.post(f"/v1/messages/{message['id']}/cancel", headers=c.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert Decimal(client.get("/v1/balance", headers=c.headers).json()["balance"]) == Decimal("1")
    _problem(
        client.post(f"/v1/messages/{message['id']}/cancel", headers=c.headers),
        422,
        "not_cancellable",
    )
    other = make_customer(db, name="Other")
    _problem(
        client.post(f"/v1/messages/{message['id']}/cancel", headers=other.headers),
        404,
        "message_not_found",
    )


def test_token_last_used_is_recorded(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    with running_server(settings) as url:
        assert httpx.get(f"{url}/v1/balance", headers=c.headers).status_code == 200
    # the server flushes token use on shutdown (and every few seconds while running)
    with db.read() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.account_id == c.account_id)).one()
    assert token.last_used_at is not None


def test_ledger_statement_csv(db: Database, client: httpx.Client) -> None:
    c = make_customer(db, balance=Decimal("1"))
    assert _send(client, c.headers, to="+37126123456", text="x", sender=c.sender).status_code == 200
    answer = client.get("/v1/ledger.csv", headers=c.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.strip().splitlines()
    assert lines[0] == "id,created_at,kind,type,amount,balance_after,reference,description"
    assert [line.split(",")[3] for line in lines[1:]] == ["topup", "charge"]
    assert lines[2].split(",")[4].startswith("-0.0")  # a negative amount stays a number
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        len(
            client.get("/v1/ledger.csv", headers=c.headers, params={"since": future})
            .text.strip()
            .splitlines()
        )
        == 1
    )


def test_history_by_phone_number(db: Database, client: httpx.Client) -> None:
    """The ``phone`` filter finds an account's single sends and sending recipients (both
    written through their own paths into ``message_numbers``), newest first, and nothing of
    another account's."""
    alice, bob = make_customer(db, name="Alice"), make_customer(db, name="Bob")
    wanted = "+37126123456"
    single = _send(
        client, alice.headers, to=[wanted, "+37126123457"], text="a", sender=alice.sender
    )
    assert single.status_code == 200, single.text
    recipients = ["+37126123458", wanted, "+37126123459", wanted]  # twice: two messages
    sending = client.post(
        "/v1/sendings",
        headers=alice.headers,
        json={"recipients": recipients, "text": "b", "sender": alice.sender},
    )
    assert sending.status_code == 201, sending.text
    assert _send(client, bob.headers, to=[wanted], text="c", sender=bob.sender).status_code == 200

    def found(headers: dict[str, str], phone: str, **params: object) -> list[dict[str, object]]:
        answer = client.get("/v1/messages", headers=headers, params={"phone": phone, **params})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["messages"])

    mine = found(alice.headers, wanted)
    assert [m["to"] for m in mine] == [wanted.lstrip("+")] * 3
    assert [m["sending_id"] for m in mine] == [sending.json()["id"]] * 2 + [None]
    ids = [int(str(m["id"])) for m in mine]
    assert ids == sorted(ids, reverse=True)
    # with or without the plus (ids only: the server's dispatcher moves statuses meanwhile)
    assert [m["id"] for m in found(alice.headers, wanted.lstrip("+"))] == ids
    assert [m["id"] for m in found(alice.headers, wanted, limit=1)] == ids[:1]
    assert found(alice.headers, "+37126000000") == []
    theirs = found(bob.headers, wanted)
    assert len(theirs) == 1 and theirs[0]["id"] not in ids
