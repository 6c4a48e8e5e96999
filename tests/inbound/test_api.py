"""/v1/inbound and /v1/opt-outs: scoped to the token's account."""

from __future__ import annotations

from decimal import Decimal

import httpx

from smsgate.config import Settings
from smsgate.connectors.base import InboundMessage
from smsgate.db import Database
from smsgate.inbound import service
from smsgate.inbound.keywords import Keywords
from smsgate.kit.time import utcnow
from tests.support.factories import make_customer


def _mo(source: str, destination: str, text: str) -> InboundMessage:
    return InboundMessage("carrier", source, destination, text, utcnow(), "up-1")


def test_inbound_and_opt_outs_per_account(db: Database, client: httpx.Client) -> None:
    a = make_customer(db, sender="4546", balance=Decimal("5"))
    b = make_customer(db, sender="+7700", name="Beta", balance=Decimal("5"))
    keywords = Keywords.from_settings(Settings())
    with db.write() as s:
        stored = service.record(
            s,
            [
                _mo("37126000001", "4546", "hello a"),
                _mo("37126000002", "7700", "STOP"),  # B's sender is "+7700"
                _mo("37126000003", "4546", "UNSUBSCRIBE me"),
                _mo("37126000004", "1234", "to nobody"),
            ]
            + [_mo("37126000005", "4546", f"page {n}") for n in range(3)],
            keywords,
            utcnow(),
        )
    assert [x.account_id for x in stored[:4]] == [a.account_id, b.account_id, a.account_id, None]

    page = client.get("/v1/inbound", headers=a.headers, params={"limit": 3})
    assert page.status_code == 200, page.text
    texts = [m["text"] for m in page.json()["messages"]]
    assert texts == ["page 2", "page 1", "page 0"]
    rest = client.get(
        "/v1/inbound", headers=a.headers, params={"cursor": page.json()["next_cursor"]}
    ).json()
    assert [m["text"] for m in rest["messages"]] == ["UNSUBSCRIBE me", "hello a"]
    assert rest["next_cursor"] is None
    assert rest["messages"][0]["source"] == "37126000003"
    only_b = client.get("/v1/inbound", headers=b.headers).json()["messages"]
    assert [m["text"] for m in only_b] == ["STOP"] and only_b[0]["destination"] == "7700"

    assert [
        o["msisdn"] for o in client.get("/v1/opt-outs", headers=a.headers).json()["opt_outs"]
    ] == ["37126000003"]
    listed_b = client.get("/v1/opt-outs", headers=b.headers).json()["opt_outs"]
    assert listed_b == [
        {"msisdn": "37126000002", "keyword": "STOP", "created_at": listed_b[0]["created_at"]}
    ]

    added = client.post("/v1/opt-outs", headers=a.headers, json={"msisdn": "+371 2600 0009"})
    assert added.status_code == 200, added.text
    assert added.json()["msisdn"] == "37126000009" and added.json()["keyword"] == "api"
    twice = client.post("/v1/opt-outs", headers=a.headers, json={"msisdn": "37126000009"})
    assert twice.status_code == 200
    bad = client.post("/v1/opt-outs", headers=a.headers, json={"msisdn": "12"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_number"
    refused = client.post(
        "/v1/messages",
        headers=a.headers,
        json={"to": "+37126000009", "text": "hi", "sender": a.sender},
    )
    assert refused.status_code == 422 and refused.json()["code"] == "opted_out"

    # B cannot see or remove A's entries
    assert client.delete("/v1/opt-outs/37126000009", headers=b.headers).status_code == 404
    gone = client.delete("/v1/opt-outs/+37126000009", headers=a.headers)
    assert gone.status_code == 204
    assert client.delete("/v1/opt-outs/37126000009", headers=a.headers).status_code == 404
    assert [
        o["msisdn"] for o in client.get("/v1/opt-outs", headers=a.headers).json()["opt_outs"]
    ] == ["37126000003"]
    assert client.get("/v1/opt-outs").status_code == 401
    assert client.get("/v1/inbound", headers=a.headers, params={"cursor": "x"}).status_code == 422


def test_stop_then_start_in_one_batch_and_repeated_stop(db: Database, plan: str) -> None:
    a = make_customer(db, sender="4546")
    keywords = Keywords.from_settings(Settings())
    with db.write() as s:
        service.record(
            s,
            [_mo("37126000001", "4546", "STOP"), _mo("37126000001", "4546", "Start")],
            keywords,
            utcnow(),
        )
        service.record(s, [_mo("37126000002", "4546", "stop")], keywords, utcnow())
        service.record(s, [_mo("37126000002", "4546", "QUIT")], keywords, utcnow())
    with db.read() as s:
        rows = service.list_opt_outs(s, a.account_id)
    assert [(r.msisdn, r.keyword) for r in rows] == [("37126000002", "stop")]
