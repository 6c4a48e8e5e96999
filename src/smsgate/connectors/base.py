"""The interface every upstream implements, and the values that cross it.

Connector.submit(batch) -> one SubmitResult per message
    SUBMITTED  the upstream took it; one upstream id per part
    TRANSIENT  try again later (throttled, connection lost, timeout)
    PERMANENT  the upstream refused it for good (the message is rejected)
Connector receipts -> ReceiptSink (awaited), in batches
Connector inbound (MO) messages -> InboundSink (awaited), in batches, for connectors that
    can receive them: they have ``set_inbound(sink)`` (``ReceivesInbound``), called before
    ``start``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from smsgate.messaging.status import MessageStatus


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    id: int
    msisdn: str
    sender: str
    text: str
    parts: int
    encoding: str


@dataclass(frozen=True, slots=True)
class SubmitResult:
    message_id: int
    outcome: Outcome
    upstream_ids: tuple[str, ...] = ()
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    connector: str
    upstream_id: str
    status: MessageStatus  # DELIVERED, UNDELIVERABLE or REJECTED
    error_code: str | None
    at: datetime


ReceiptSink = Callable[[Sequence[Receipt]], Awaitable[None]]


class Connector(Protocol):
    name: str

    async def start(self, receipts: ReceiptSink) -> None: ...

    async def submit(self, batch: Sequence[OutboundMessage]) -> list[SubmitResult]: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a handset sent to one of our numbers (MO), as the upstream handed it over."""

    connector: str
    source: str  # the sending number, as the upstream wrote it
    destination: str  # the number or sender name it was sent to
    text: str
    received_at: datetime
    upstream_id: str | None = None


InboundSink = Callable[[Sequence[InboundMessage]], Awaitable[None]]


class ReceivesInbound(Protocol):
    """Optional: a connector that can receive inbound messages."""

    def set_inbound(self, sink: InboundSink) -> None: ...
