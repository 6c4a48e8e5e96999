"""What the fake providers of both families share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from starlette.types import ASGIApp

from smsgate.connectors.base import OutboundMessage
from tests.support.server import serving


class Fake(Protocol):
    url: str

    def app(self) -> ASGIApp: ...


F = TypeVar("F", bound=Fake)


@contextmanager
def running(fake: F) -> Iterator[F]:
    """Serve ``fake`` on a loopback port; ``fake.url`` is its base URL while running."""
    with serving(fake.app(), what="the fake provider") as url:
        fake.url = url
        yield fake


def outbound(
    msisdn: str = "37126123456", text: str = "Hello", sender: str = "ACME", id: int = 1
) -> OutboundMessage:
    parts = 1 if len(text) <= 160 else -(-len(text) // 153)
    return OutboundMessage(id, msisdn, sender, text, parts, "gsm7")
