"""What every HTTP upstream (Twilio, Infobip, the seed providers...) shares.

A provider subclass says how to send one message (``send_one``) and, if the provider
reports delivery by calling us back, how to read a callback (``parse_callback``, a class
method: callbacks may reach any API process, which has no live connector). Providers that
forward inbound (MO) messages to the same URL read them with ``parse_inbound``. Providers
that sign their callbacks set ``signs_callbacks`` and check a signature in ``authentic``
(every callback must also carry the connector's callback token: ``connectors/registry.py``).
Providers that must be asked for status set ``poll_interval`` and implement ``poll``; the
dispatcher hands them the upstream ids still waiting for a receipt through ``pending``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx
import structlog

from smsgate.connectors.base import (
    InboundMessage,
    OutboundMessage,
    Outcome,
    Receipt,
    ReceiptSink,
    SubmitResult,
)

log = structlog.get_logger(__name__)
PendingSource = Callable[[], Awaitable[list[str]]]


class HttpProvider:
    kind: ClassVar[str] = ""
    # options a provider requires (checked when the operator adds the connector)
    required: ClassVar[tuple[str, ...]] = ()
    poll_interval: ClassVar[float | None] = None
    concurrency: ClassVar[int] = 16
    signs_callbacks: ClassVar[bool] = False
    # what a callback is answered with (body, media type) once it has been taken
    callback_reply: ClassVar[tuple[str, str]] = ("OK", "text/plain")

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        self.name = name
        self.options = dict(options)
        self.secret = secret
        self.base_url = str(self.options.get("base_url", "")).rstrip("/")
        self.client: httpx.AsyncClient | None = None
        self.sink: ReceiptSink | None = None
        self.pending: PendingSource | None = None
        self.healthy = True
        self.last_error: str | None = None
        self._gate = asyncio.Semaphore(self.concurrency)
        self._poller: asyncio.Task[None] | None = None

    async def start(self, receipts: ReceiptSink) -> None:
        self.sink = receipts
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
        if self.poll_interval is not None:
            self._poller = asyncio.get_running_loop().create_task(self._poll_loop())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self.client is not None:
            await self.client.aclose()

    async def submit(self, batch: Sequence[OutboundMessage]) -> list[SubmitResult]:
        async def one(msg: OutboundMessage) -> SubmitResult:
            async with self._gate:
                try:
                    result = await self.send_one(msg)
                except httpx.HTTPError as exc:  # network trouble: try again later
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._mark_down()
                    return SubmitResult(msg.id, Outcome.TRANSIENT, error_code="http_unreachable")
                if result.outcome is not Outcome.TRANSIENT:
                    self.healthy = True
                return result

        return list(await asyncio.gather(*(one(m) for m in batch)))

    def _mark_down(self, retry_after: float = 30.0) -> None:
        """Unreachable: routing fails over to other connectors, and after ``retry_after``
        seconds this one is offered messages again (a send that works keeps it up)."""
        if self.healthy:
            self.healthy = False
            asyncio.get_running_loop().call_later(retry_after, self._revive)

    def _revive(self) -> None:
        self.healthy = True

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        raise NotImplementedError

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        """Receipts from a status callback; providers without callbacks get none."""
        return []

    @classmethod
    def parse_inbound(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[InboundMessage]:
        """Inbound (MO) messages a callback carries; providers without them get none."""
        return []

    @classmethod
    def authentic(cls, url: str, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Does the callback's signature verify (``signs_callbacks`` providers only)?"""
        return False

    async def poll(self, upstream_ids: Sequence[str]) -> list[Receipt]:
        return []

    async def _poll_loop(self) -> None:
        assert self.poll_interval is not None
        while True:
            await asyncio.sleep(self.poll_interval)
            if self.pending is None or self.sink is None:
                continue
            try:
                ids = await self.pending()
                receipts = await self.poll(ids) if ids else []
                if receipts:
                    await self.sink(receipts)
            except Exception:
                log.exception("status poll failed", connector=self.name)


def http_status_outcome(status: int) -> Outcome:
    """The usual split: 429 and 5xx are worth retrying, other 4xx are the message's fault."""
    if status == 429 or status >= 500:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
