"""The Messente provider against a local fake of the Omnichannel API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from smsgate.connectors.base import Outcome
from smsgate.connectors.http.messente import MessenteProvider
from smsgate.messaging.status import MessageStatus
from tests.connectors.http.fakes_intl import FakeMessente, outbound, running, submit

CALLBACK = "https://gateway.example/v1/callbacks/ms"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMessente]:
    with running(FakeMessente()) as served:
        assert isinstance(served, FakeMessente)
        yield served


@pytest.fixture(autouse=True)
def _fresh(fake: FakeMessente) -> None:
    fake.mode = "ok"
    fake.seen.clear()


def provider(fake: FakeMessente, secret: str | None = None, **options: Any) -> MessenteProvider:
    config = {"base_url": f"{fake.url}/v1", "username": fake.username, "callback_url": CALLBACK}
    return MessenteProvider("ms", config | options, fake.password if secret is None else secret)


def test_submit_posts_an_omnimessage(fake: FakeMessente) -> None:
    (result,) = submit(provider(fake), outbound(text="Hello from smsgate"))
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    (seen,) = fake.seen
    assert seen.path == "/v1/omnimessage"
    token = base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {token}"
    assert seen.body == {
        "to": "+37126123456",
        "messages": [{"channel": "sms", "text": "Hello from smsgate", "sender": "ACME"}],
        "dlr_url": CALLBACK,
    }


def test_long_message_and_sender_override(fake: FakeMessente) -> None:
    (result,) = submit(provider(fake, sender="Shop"), outbound(text="z" * 500))
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    assert fake.seen[0].body["messages"][0]["sender"] == "Shop"


@pytest.mark.parametrize(
    ("mode", "secret", "outcome", "code"),
    [
        ("invalid_number", None, Outcome.PERMANENT, "messente_105"),
        ("ok", "wrong-password", Outcome.PERMANENT, "messente_103"),
        ("throttle", None, Outcome.TRANSIENT, "messente_104"),
        ("down", None, Outcome.TRANSIENT, "messente_http_502"),
    ],
)
def test_refusals_map_to_outcomes(
    fake: FakeMessente, mode: str, secret: str | None, outcome: Outcome, code: str
) -> None:
    fake.mode = mode
    (result,) = submit(provider(fake, secret), outbound())
    assert (result.outcome, result.error_code, result.upstream_ids) == (outcome, code, ())


@pytest.mark.parametrize(
    ("status", "err", "final", "error"),
    [
        ("DELIVRD", 0, MessageStatus.DELIVERED, None),
        ("SEEN", 0, MessageStatus.DELIVERED, None),
        ("UNDELIV", 1, MessageStatus.UNDELIVERABLE, "messente_1"),
        ("EXPIRED", 2, MessageStatus.UNDELIVERABLE, "messente_2"),
        ("FAILED", 0, MessageStatus.UNDELIVERABLE, "messente_FAILED"),
        ("DELETED", None, MessageStatus.UNDELIVERABLE, "messente_DELETED"),
        ("REJECTD", 3, MessageStatus.REJECTED, "messente_3"),
        ("NACK", 0, MessageStatus.REJECTED, "messente_NACK"),
    ],
)
def test_delivery_reports_map_to_receipts(
    status: str, err: int | None, final: MessageStatus, error: str | None
) -> None:
    body = {
        "status": status,
        "err": err,
        "message_id": "m-1",
        "omnimessage_id": "o-1",
        "channel": "sms",
        "to": "+37126123456",
        "timestamp": "2024-01-01T10:00:01.000000",
    }
    (receipt,) = MessenteProvider.parse_callback("ms", json.dumps(body).encode(), {}, {})
    assert (receipt.connector, receipt.upstream_id) == ("ms", "m-1")
    assert (receipt.status, receipt.error_code) == (final, error)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "ACK", "message_id": "m-1"},
        {"status": "ACCEPTD", "message_id": "m-1"},
        {"status": "UNKNOWN", "message_id": "m-1"},
        {"status": "DELIVRD"},  # no message_id
    ],
)
def test_non_final_or_incomplete_reports_are_ignored(body: dict[str, Any]) -> None:
    assert MessenteProvider.parse_callback("ms", json.dumps(body).encode(), {}, {}) == []
    assert MessenteProvider.parse_callback("ms", b"<html>", {}, {}) == []
