"""Callbacks to private addresses are refused unless the operator allows them."""

from __future__ import annotations

import ipaddress
import socket
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.webhooks.ssrf import literal_refusal, refusal
from tests.support.factories import make_customer
from tests.support.server import running_server
from tests.support.waiting import wait_for
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("240.0.0.1", "private"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_refusal(address: str, reason: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


def test_literal_refusal_needs_no_dns() -> None:
    assert literal_refusal("127.0.0.1") == "loopback address"
    assert literal_refusal("[::1]") == "loopback address"
    assert literal_refusal("LOCALHOST.") == "loopback"
    assert literal_refusal("api.localhost") == "loopback"
    assert literal_refusal("8.8.8.8") is None
    assert literal_refusal("shop.example") is None  # a name: checked when connecting


def _loopback_name() -> str:
    """A host name (not ``localhost``) that resolves to a non-public address only."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip(f"{name} does not resolve")
    if any(refusal(ipaddress.ip_address(i[4][0])) is None for i in infos):
        pytest.skip(f"{name} resolves to a public address")
    return name


def test_private_callbacks_refused_without_the_setting(
    db: Database, settings: Settings, plan: str, receiver: Receiver
) -> None:
    strict = settings.model_copy(update={"webhooks_allow_private": False})
    c = make_customer(db, balance=Decimal("1"))
    uz = make_customer(db, sender="4546", name="Uz")
    port = receiver.url.rsplit(":", 1)[1]
    with running_server(strict) as url, httpx.Client(base_url=url, timeout=30) as client:

        def send(callback: str) -> httpx.Response:
            return client.post(
                "/v1/messages",
                headers=c.headers,
                json={
                    "to": "+37126123456",
                    "text": "x",
                    "sender": c.sender,
                    "callback_url": callback,
                },
            )

        for callback in (
            f"{receiver.url}/x",
            "http://10.1.2.3/hook",
            "http://[::1]:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            f"http://localhost:{port}/x",
        ):
            refused = send(callback)
            assert refused.status_code == 422, (callback, refused.text)
            assert refused.json()["code"] == "callback_url_not_public"
            assert refused.json()["field"] == "callback_url"
        uz_refused = client.post(
            "/api/send_sms.php",
            headers=uz.headers,
            json={"phone": "998901234567", "message": "x", "callback_url": f"{receiver.url}/x"},
        )
        assert uz_refused.status_code == 400 and "public" in uz_refused.json()["error"]
        default = client.put("/v1/webhooks", headers=c.headers, json={"url": "http://192.168.0.1/"})
        assert default.status_code == 422
        assert default.json()["code"] == "webhook_url_not_public"

        # a name that resolves to loopback passes acceptance (no DNS there) and is refused
        # when the delivery connects: failed at once, nothing received
        name = _loopback_name()
        accepted = send(f"http://{name}:{port}/named")
        assert accepted.status_code == 200, accepted.text
        message_id = accepted.json()["messages"][0]["id"]

        def failed() -> list[dict[str, Any]] | None:
            found = client.get(
                "/v1/webhooks/deliveries",
                headers=c.headers,
                params={"message_id": message_id, "status": "failed"},
            ).json()["deliveries"]
            return found if len(found) == 2 else None

        for delivery in wait_for(failed):
            assert delivery["last_status_code"] is None
            assert str(delivery["last_error"]).startswith(f"refused: {name} resolves to")
            assert "address" in str(delivery["last_error"])
            assert len(delivery["attempts"]) == 1
    assert receiver.calls() == []
