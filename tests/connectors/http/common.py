"""What the fake providers of both families and their tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from starlette.types import ASGIApp

from smsgate.connectors.base import OutboundMessage, Receipt, SubmitResult
from smsgate.connectors.http.base import HttpProvider
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


P = TypeVar("P", bound=HttpProvider)
T = TypeVar("T")


def drive(
    provider: P,
    work: Callable[[P], Awaitable[T]],
    receipts: list[Receipt] | None = None,
) -> T:
    """Start ``provider``, run ``work`` with it and stop it, on a fresh event loop."""

    async def sink(batch: Any) -> None:
        if receipts is not None:
            receipts.extend(batch)

    async def run() -> T:
        await provider.start(sink)
        try:
            return await work(provider)
        finally:
            await provider.stop()

    return asyncio.run(run())


def submit(provider: HttpProvider, *messages: OutboundMessage) -> list[SubmitResult]:
    async def work(p: HttpProvider) -> list[SubmitResult]:
        return await p.submit(list(messages))

    return drive(provider, work)
