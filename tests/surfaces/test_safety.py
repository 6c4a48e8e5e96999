"""The last line of defence (``smsgate.surfaces.safety``), over real HTTP on loopback."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.surfaces import safety
from tests.support.factories import make_customer
from tests.support.waiting import wait_for


class _Log:
    """Stands in for the middleware's logger and keeps what it was told, by level."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def info(self, event: str, **kw: object) -> None:
        self.events.append(("info", event))

    def warning(self, event: str, **kw: object) -> None:
        self.events.append(("warning", event))

    def error(self, event: str, **kw: object) -> None:
        self.events.append(("error", event))

    def exception(self, event: str, **kw: object) -> None:
        self.events.append(("exception", event))


@pytest.mark.parametrize("path", ["/v1/messages", "/api/send_sms.php"])
def test_a_client_hanging_up_mid_body_is_not_an_error_and_sends_nothing(
    db: Database, server: str, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    c = make_customer(db)
    log = _Log()
    monkeypatch.setattr(safety, "log", log)
    url = urlsplit(server)
    body = b'{"to": "+37126123456", "text": "Hello", "sender": "ACME"}'
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {c.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(head + body)  # a hundred bytes short of what it announced
    wait_for(lambda: log.events, timeout=10)
    assert log.events == [("info", "client disconnected before its request was read")]
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(Message))
    assert count == 0
    # the server goes on answering
    assert httpx.get(f"{server}/status", timeout=5).status_code == 200
