"""The Infobip provider against a local fake of the SMS API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from smsgate.connectors.base import Outcome
from smsgate.connectors.http.infobip import InfobipProvider
from smsgate.messaging.status import MessageStatus
from tests.connectors.http.fakes_intl import FakeInfobip, outbound, running, submit

CALLBACK = "https://gateway.example/v1/callbacks/ib"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeInfobip]:
    with running(FakeInfobip()) as served:
        assert isinstance(served, FakeInfobip)
        yield served


@pytest.fixture(autouse=True)
def _fresh(fake: FakeInfobip) -> None:
    fake.mode = "ok"
    fake.seen.clear()


def provider(fake: FakeInfobip, secret: str | None = None, **options: Any) -> InfobipProvider:
    config = {"base_url": fake.url, "callback_url": CALLBACK} | options
    return InfobipProvider("ib", config, fake.api_key if secret is None else secret)


def test_submit_posts_an_advanced_text_message(fake: FakeInfobip) -> None:
    (result,) = submit(provider(fake), outbound(text="Hello from smsgate"))
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    (seen,) = fake.seen
    assert seen.path == "/sms/2/text/advanced"
    assert seen.headers["authorization"] == f"App {fake.api_key}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {
        "messages": [
            {
                "from": "ACME",
                "destinations": [{"to": "37126123456"}],
                "text": "Hello from smsgate",
                "notifyUrl": CALLBACK,
                "notifyContentType": "application/json",
            }
        ]
    }


def test_long_message_and_sender_override(fake: FakeInfobip) -> None:
    (result,) = submit(provider(fake, sender="InfoSMS"), outbound(text="y" * 300))
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    assert fake.seen[0].body["messages"][0]["from"] == "InfoSMS"


@pytest.mark.parametrize(
    ("mode", "secret", "outcome", "code"),
    [
        ("no_credit", None, Outcome.PERMANENT, "infobip_REJECTED_NOT_ENOUGH_CREDITS"),
        ("ok", "wrong-key", Outcome.PERMANENT, "infobip_UNAUTHORIZED"),
        ("throttle", None, Outcome.TRANSIENT, "infobip_TOO_MANY_REQUESTS"),
        ("down", None, Outcome.TRANSIENT, "infobip_GENERAL_ERROR"),
    ],
)
def test_refusals_map_to_outcomes(
    fake: FakeInfobip, mode: str, secret: str | None, outcome: Outcome, code: str
) -> None:
    fake.mode = mode
    (result,) = submit(provider(fake, secret), outbound())
    assert (result.outcome, result.error_code, result.upstream_ids) == (outcome, code, ())


def test_an_invalid_request_is_permanent(fake: FakeInfobip) -> None:
    (result,) = submit(provider(fake), outbound(text=""))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "infobip_BAD_REQUEST")


def report(group: str, name: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "bulkId": "b1",
        "messageId": f"id-{name}",
        "to": "37126123456",
        "smsCount": 1,
        "status": {"groupId": 0, "groupName": group, "id": 0, "name": name},
        "error": error or {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
    }


def test_delivery_reports_map_to_receipts() -> None:
    unknown = {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 1,
        "name": "EC_UNKNOWN_SUBSCRIBER",
    }
    body = {
        "results": [
            report("DELIVERED", "DELIVERED_TO_HANDSET"),
            report("DELIVERED", "DELIVERED_TO_OPERATOR"),
            report("UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED", unknown),
            report("EXPIRED", "EXPIRED_EXPIRED"),
            report("REJECTED", "REJECTED_NETWORK"),
            report("PENDING", "PENDING_WAITING_DELIVERY"),  # not final: no receipt
            {"status": {"groupName": "DELIVERED"}},  # no messageId: ignored
        ]
    }
    receipts = InfobipProvider.parse_callback("ib", json.dumps(body).encode(), {}, {})
    assert [(r.upstream_id, r.status, r.error_code) for r in receipts] == [
        ("id-DELIVERED_TO_HANDSET", MessageStatus.DELIVERED, None),
        ("id-DELIVERED_TO_OPERATOR", MessageStatus.DELIVERED, None),
        (
            "id-UNDELIVERABLE_NOT_DELIVERED",
            MessageStatus.UNDELIVERABLE,
            "infobip_EC_UNKNOWN_SUBSCRIBER",
        ),
        ("id-EXPIRED_EXPIRED", MessageStatus.UNDELIVERABLE, "infobip_EXPIRED_EXPIRED"),
        ("id-REJECTED_NETWORK", MessageStatus.REJECTED, "infobip_REJECTED_NETWORK"),
    ]
    assert all(r.connector == "ib" for r in receipts)


@pytest.mark.parametrize("body", [b"not json", b"[]", b"{}", b'{"results": "x"}'])
def test_malformed_reports_are_ignored(body: bytes) -> None:
    assert InfobipProvider.parse_callback("ib", body, {}, {}) == []
