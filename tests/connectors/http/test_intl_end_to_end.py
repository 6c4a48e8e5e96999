"""Twilio, Infobip, Messente and Trumpia as connectors of a running smsgate (SQLite and
PostgreSQL): configured in the database, routed to by prefix, sent to over real HTTP; the
fakes call smsgate's ``/v1/callbacks/{connector}/{token}`` back (Trumpia is polled) and the
messages reach their final status without touching the ledger. Secrets are stored encrypted
and never leave the database; callback tokens only in the callback URLs.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.registry import (
    add_connector,
    kinds,
    list_connectors,
    new_callback_url,
    public_view,
)
from smsgate.db import Database
from smsgate.errors import InvalidRequest
from smsgate.messaging.models import Message
from smsgate.routing.service import add_route
from tests.connectors.http.fakes_intl import (
    FakeInfobip,
    FakeMessente,
    FakeTrumpia,
    FakeTwilio,
    running,
)
from tests.support.factories import make_customer
from tests.support.waiting import wait_for


def test_four_providers_deliver_over_http(
    db: Database, settings: Settings, server: str, client: httpx.Client
) -> None:
    customer = make_customer(db, balance=Decimal("10"))
    with ExitStack() as stack:
        tw = stack.enter_context(running(FakeTwilio()))
        ib = stack.enter_context(running(FakeInfobip()))
        ms = stack.enter_context(running(FakeMessente()))
        tp = stack.enter_context(running(FakeTrumpia()))
        assert isinstance(tw, FakeTwilio) and isinstance(ib, FakeInfobip)
        assert isinstance(ms, FakeMessente) and isinstance(tp, FakeTrumpia)
        with db.write() as s:
            back = f"{server}/v1/callbacks"
            added = [
                add_connector(
                    s,
                    "tw",
                    "twilio",
                    {
                        "base_url": tw.url,
                        "account_sid": tw.account_sid,
                        "callback_url": f"{back}/tw",
                    },
                    tw.auth_token,
                ),
                add_connector(
                    s,
                    "ib",
                    "infobip",
                    {"base_url": ib.url, "callback_url": f"{back}/ib"},
                    ib.api_key,
                ),
                add_connector(
                    s,
                    "ms",
                    "messente",
                    {
                        "base_url": f"{ms.url}/v1",
                        "username": ms.username,
                        "callback_url": f"{back}/ms",
                    },
                    ms.password,
                ),
                add_connector(
                    s,
                    "tp",
                    "trumpia",
                    {"base_url": tp.url, "user_name": tp.user_name, "poll_interval": 0.2},
                    tp.api_key,
                ),
            ]
            # shown once, at creation: the option's URL followed by the connector's token
            urls = {c.name: new_callback_url(c, settings) or "" for c in added}
            for prefix, name in [
                ("37121", "tw"),
                ("37122", "ib"),
                ("37123", "ms"),
                ("37124", "tp"),
            ]:
                add_route(s, name, prefix=prefix)
        time.sleep(2.5)  # the API and the dispatcher read connectors and routes every 2 s

        sends = {
            "tw": ("+37121000001", "Twilio splits this itself. " * 12),  # 3 parts, 1 upstream id
            "ib": ("+37122000001", "Hello through Infobip"),
            "ib-fails": ("+37122000099", "This one is undeliverable"),
            "ms": ("+37123000001", "Hello through Messente"),
            "tp": ("+37124000001", "Hello through Trumpia"),
        }
        sent: dict[str, dict[str, Any]] = {}
        for key, (to, text) in sends.items():
            answer = client.post(
                "/v1/messages",
                headers=customer.headers,
                json={"to": to, "text": text, "sender": customer.sender},
            )
            assert answer.status_code == 200, answer.text
            (sent[key],) = answer.json()["messages"]
            charged = Decimal(answer.json()["balance"])
        assert sent["tw"]["parts"] == 3

        def all_final() -> dict[str, dict[str, Any]] | None:
            got = {
                key: client.get(f"/v1/messages/{m['id']}", headers=customer.headers).json()
                for key, m in sent.items()
            }
            done = all(g["status"] not in ("queued", "submitted") for g in got.values())
            return got if done else None

        outcome = wait_for(all_final, timeout=30, interval=0.1)
        assert {k: v["status"] for k, v in outcome.items()} == {
            "tw": "delivered",
            "ib": "delivered",
            "ib-fails": "undeliverable",
            "ms": "delivered",
            "tp": "delivered",
        }
        assert outcome["ib-fails"]["error_code"] == "infobip_EC_UNKNOWN_SUBSCRIBER"
        with db.read() as s:
            assert {k: s.get_one(Message, m["id"]).connector for k, m in sent.items()} == {
                "tw": "tw",
                "ib": "ib",
                "ib-fails": "ib",
                "ms": "ms",
                "tp": "tp",
            }
            # the callbacks moved statuses only: no charge, no refund (none is configured)
            assert ledger.balance(s, customer.account_id) == charged
            assert ledger.balance(s, customer.account_id) == ledger.entries_total(
                s, customer.account_id
            )
        # each upstream received one request per message and was answered by smsgate
        assert [len(f.seen) for f in (tw, ib, ms)] == [1, 2, 1]
        assert len([x for x in tp.seen if x.method == "PUT"]) == 1
        wait_for(lambda: [len(f.callbacks) for f in (tw, ib, ms)] == [2, 2, 2])
        assert all(urls[n].startswith(f"{back}/{n}/") for n in ("tw", "ib", "ms"))
        assert urls["tp"].startswith("/v1/callbacks/tp/")  # no URL known: its path
        assert tw.callbacks == [(urls["tw"], 200)] * 2  # sent, then delivered
        assert ms.callbacks == [(urls["ms"], 200)] * 2  # ACK, then DELIVRD
        assert ib.callbacks == [(urls["ib"], 200)] * 2
        assert tw.seen[0].body["StatusCallback"] == urls["tw"]

    # secrets: stored, never shown by anything built on public_view (``connectors list``)
    secrets = [tw.auth_token, ib.api_key, ms.password, tp.api_key]
    with db.read() as s:
        views = [public_view(c) for c in list_connectors(s)]
    assert {v["name"] for v in views} == {"tw", "ib", "ms", "tp"}
    assert all(
        v["has_secret"] and set(v) == {"name", "kind", "options", "enabled", "has_secret"}
        for v in views
    )
    tokens = [url.rsplit("/", 1)[1] for url in urls.values()]
    assert not any(secret in json.dumps(views) for secret in secrets + tokens)
    # at rest: the secret column and the callback token are ciphertext
    with db.read() as s:
        stored = [(c.secret, c.options) for c in list_connectors(s)]
    assert all(secret.startswith("enc:v1:") for secret, _ in stored)
    assert not any(x in secret + options for secret, options in stored for x in secrets + tokens)


@pytest.mark.parametrize(
    ("kind", "options", "missing"),
    [
        ("twilio", {"base_url": "https://api.twilio.com"}, "account_sid"),
        ("infobip", {}, "base_url"),
        ("messente", {"base_url": "https://api.messente.com/v1"}, "username"),
        ("trumpia", {"base_url": "https://api.trumpia.com"}, "user_name"),
    ],
)
def test_required_options_are_checked(
    db: Database, kind: str, options: dict[str, Any], missing: str
) -> None:
    assert kind in kinds()
    with db.write() as s, pytest.raises(InvalidRequest, match=missing):
        add_connector(s, f"x-{kind}", kind, options, "secret")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ConnectorConfig)) == 0
