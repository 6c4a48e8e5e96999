"""The verification snippet printed in docs/webhooks.md verifies real deliveries."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from smsgate.db import Database
from smsgate.webhooks import signing
from tests.support.factories import make_customer
from tests.webhooks.helpers import docs_verifier, events_for, rotate, signed_by
from tests.webhooks.receiver import Receiver


def test_docs_snippet_verifies_real_deliveries(
    db: Database, client: httpx.Client, receiver: Receiver
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    secret = rotate(client, c)
    sent = client.post(
        "/v1/messages",
        headers=c.headers,
        json={
            "to": "+37126123456",
            "text": "signed",
            "sender": c.sender,
            "callback_url": f"{receiver.url}/signed",
        },
    )
    assert sent.status_code == 200, sent.text
    events_for(receiver, "/signed", sent.json()["messages"][0]["id"], 2)
    verify = docs_verifier()
    calls = receiver.calls("/signed")
    assert len(calls) == 2
    for call in calls:
        assert call.headers["content-type"] == "application/json"
        assert call.headers["x-smsgate-event"] == "message.status"
        assert call.headers["x-smsgate-signature"].startswith("v1=")
        assert signed_by(secret, call)
        ts, sig = call.headers["x-smsgate-timestamp"], call.headers["x-smsgate-signature"]
        assert not verify(secret, call.body + b" ", ts, sig)  # the body was changed
        assert not verify("whsec_someone-else", call.body, ts, sig)
        assert not verify(secret, call.body, str(int(ts) + 1), sig)  # the timestamp was changed
    assert len({c.headers["x-smsgate-delivery"] for c in calls}) == 2

    # a rotated secret signs the next deliveries; the old one no longer verifies them
    newer = rotate(client, c)
    assert newer != secret
    again = client.post(
        "/v1/messages",
        headers=c.headers,
        json={
            "to": "+37126123457",
            "text": "x",
            "sender": c.sender,
            "callback_url": f"{receiver.url}/rotated",
        },
    )
    events_for(receiver, "/rotated", again.json()["messages"][0]["id"], 2)
    for call in receiver.calls("/rotated"):
        assert signed_by(newer, call) and not signed_by(secret, call)


def test_snippet_refuses_old_timestamps() -> None:
    verify = docs_verifier()
    body = b'{"event":"message.status"}'
    now = int(time.time())
    for at, ok in ((now, True), (now - 299, True), (now - 3600, False), (now + 3600, False)):
        assert verify("whsec_k", body, str(at), signing.signature("whsec_k", at, body)) is ok
    assert not verify("whsec_k", body, "not-a-number", signing.signature("whsec_k", now, body))
