"""The built-in simulator: an upstream that accepts everything and reports receipts.

Numbers matching ``rejected`` are refused on submit; numbers matching ``undeliverable`` get
an UNDELIVERABLE receipt; everything else is DELIVERED ``delay`` seconds after submission.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import deque
from collections.abc import Sequence

import structlog

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, ReceiptSink, SubmitResult
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

log = structlog.get_logger(__name__)


class Simulator:
    def __init__(
        self,
        name: str = "simulator",
        *,
        delay: float = 0.5,
        undeliverable: str = "",
        rejected: str = "",
    ) -> None:
        self.name = name
        self.delay = delay
        self._undeliverable = re.compile(undeliverable) if undeliverable else None
        self._rejected = re.compile(rejected) if rejected else None
        # Receipts fall due in submission order because the delay is constant: a deque is
        # the whole timer wheel.
        self._due: deque[tuple[float, Receipt]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sink: ReceiptSink | None = None
        self.submitted = 0

    async def start(self, receipts: ReceiptSink) -> None:
        self._sink = receipts
        self._task = asyncio.get_running_loop().create_task(self._report())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def recover(self, parts: Sequence[tuple[str, str]]) -> None:
        """Schedule receipts again for parts submitted before a restart, as a real SMSC
        delivers its pending receipts when a client binds again."""
        due = asyncio.get_running_loop().time() + self.delay
        now = utcnow()
        for upstream_id, msisdn in parts:
            status, error = self._outcome(msisdn)
            self._due.append((due, Receipt(self.name, upstream_id, status, error, now)))
        self._wake.set()

    def _outcome(self, msisdn: str) -> tuple[MessageStatus, str | None]:
        if self._undeliverable is not None and self._undeliverable.search(msisdn):
            return MessageStatus.UNDELIVERABLE, "simulated_undeliverable"
        return MessageStatus.DELIVERED, None

    async def submit(self, batch: Sequence[OutboundMessage]) -> list[SubmitResult]:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.delay
        now = utcnow()
        results: list[SubmitResult] = []
        for msg in batch:
            if self._rejected and self._rejected.search(msg.msisdn):
                results.append(
                    SubmitResult(msg.id, Outcome.PERMANENT, error_code="simulated_reject")
                )
                continue
            ids = tuple(uuid.uuid4().hex for _ in range(msg.parts))
            status, error = self._outcome(msg.msisdn)
            for upstream_id in ids:
                self._due.append((due, Receipt(self.name, upstream_id, status, error, now)))
            results.append(SubmitResult(msg.id, Outcome.SUBMITTED, ids))
        self.submitted += len(results)
        self._wake.set()
        return results

    async def _report(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._due[0][0] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = loop.time()
            ready: list[Receipt] = []
            while self._due and self._due[0][0] <= now and len(ready) < 5000:
                ready.append(self._due.popleft()[1])
            if ready and self._sink is not None:
                try:
                    await self._sink(ready)
                except Exception:
                    # Not recorded: put them back in front and try again shortly.
                    log.exception("receipts not recorded; retrying", count=len(ready))
                    self._due.extendleft((now, r) for r in reversed(ready))
                    await asyncio.sleep(1.0)
