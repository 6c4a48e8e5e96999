"""The Twilio provider against a local fake of the Messages API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from smsgate.connectors.base import Outcome
from smsgate.connectors.http.twilio import TwilioProvider
from smsgate.messaging.status import MessageStatus
from tests.connectors.http.fakes_intl import FakeTwilio, outbound, running, submit
from tests.support.postgres import free_port

CALLBACK = "https://gateway.example/v1/callbacks/tw"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilio]:
    with running(FakeTwilio()) as served:
        assert isinstance(served, FakeTwilio)
        yield served


@pytest.fixture(autouse=True)
def _fresh(fake: FakeTwilio) -> None:
    fake.mode = "ok"
    fake.seen.clear()


def provider(fake: FakeTwilio, secret: str | None = None, **options: Any) -> TwilioProvider:
    config = {"base_url": fake.url, "account_sid": fake.account_sid, "callback_url": CALLBACK}
    return TwilioProvider("tw", config | options, fake.auth_token if secret is None else secret)


def test_submit_posts_the_messages_api_form(fake: FakeTwilio) -> None:
    (result,) = submit(provider(fake), outbound(text="Hello from smsgate"))
    assert result.outcome is Outcome.SUBMITTED
    assert len(result.upstream_ids) == 1 and result.upstream_ids[0].startswith("SM")
    (seen,) = fake.seen
    assert seen.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    token = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {token}"
    assert seen.body == {
        "To": "+37126123456",
        "From": "ACME",
        "Body": "Hello from smsgate",
        "StatusCallback": CALLBACK,
    }


def test_a_long_message_is_one_upstream_message(fake: FakeTwilio) -> None:
    msg = outbound(text="x" * 400)
    assert msg.parts == 3
    (result,) = submit(provider(fake), msg)
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    assert fake.seen[0].body["Body"] == "x" * 400


def test_sender_override_and_messaging_service(fake: FakeTwilio) -> None:
    submit(provider(fake, sender="+15005550006"), outbound())
    assert fake.seen[-1].body["From"] == "+15005550006"
    submit(provider(fake, messaging_service_sid="MG" + "1" * 32), outbound())
    assert fake.seen[-1].body["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in fake.seen[-1].body


@pytest.mark.parametrize(
    ("mode", "secret", "outcome", "code"),
    [
        ("invalid_number", None, Outcome.PERMANENT, "twilio_21211"),
        ("ok", "wrong-token", Outcome.PERMANENT, "twilio_20003"),
        ("throttle", None, Outcome.TRANSIENT, "twilio_20429"),
        ("down", None, Outcome.TRANSIENT, "twilio_http_503"),
    ],
)
def test_refusals_map_to_outcomes(
    fake: FakeTwilio, mode: str, secret: str | None, outcome: Outcome, code: str
) -> None:
    fake.mode = mode
    p = provider(fake, secret)
    (result,) = submit(p, outbound())
    assert (result.outcome, result.error_code, result.upstream_ids) == (outcome, code, ())
    assert p.last_error


def test_an_unreachable_api_is_transient(fake: FakeTwilio) -> None:
    p = provider(fake, base_url=f"http://127.0.0.1:{free_port()}")
    (result,) = submit(p, outbound())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "http_unreachable")


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"MessageStatus": "delivered"}, MessageStatus.DELIVERED, None),
        ({"MessageStatus": "read"}, MessageStatus.DELIVERED, None),
        (
            {"MessageStatus": "undelivered", "ErrorCode": "30003"},
            MessageStatus.UNDELIVERABLE,
            "twilio_30003",
        ),
        ({"MessageStatus": "failed", "ErrorCode": "30007"}, MessageStatus.REJECTED, "twilio_30007"),
        ({"MessageStatus": "canceled"}, MessageStatus.REJECTED, "twilio_canceled"),
        ({"SmsStatus": "delivered"}, MessageStatus.DELIVERED, None),  # the older field names
    ],
)
def test_status_callbacks_map_to_receipts(
    fields: dict[str, str], status: MessageStatus, error: str | None
) -> None:
    body = urlencode({"MessageSid": "SM123", "AccountSid": "AC1", **fields}).encode()
    (receipt,) = TwilioProvider.parse_callback("tw", body, {}, {})
    assert (receipt.connector, receipt.upstream_id) == ("tw", "SM123")
    assert (receipt.status, receipt.error_code) == (status, error)


@pytest.mark.parametrize("status", ["queued", "accepted", "scheduled", "sending", "sent"])
def test_non_final_statuses_are_ignored(status: str) -> None:
    body = urlencode({"MessageSid": "SM123", "MessageStatus": status}).encode()
    assert TwilioProvider.parse_callback("tw", body, {}, {}) == []


def test_a_callback_without_a_sid_is_ignored() -> None:
    assert TwilioProvider.parse_callback("tw", b"MessageStatus=delivered", {}, {}) == []
    assert TwilioProvider.parse_callback("tw", b"\xff\xfe", {}, {}) == []
