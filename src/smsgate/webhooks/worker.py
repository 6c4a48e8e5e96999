"""The webhook worker: an asyncio loop in the serve process, beside the dispatcher.

It claims due deliveries (never more than it has free request slots), posts each one with
the process's single ``httpx.AsyncClient`` (a bounded pool, ``webhooks_concurrency``
requests at a time), and hands every attempt to a group-commit batcher that logs it and
moves the delivery on in one transaction per batch. Nothing is held only in memory: a
delivery whose worker stops or dies mid-request is claimed again when its lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import httpx
import structlog
from prometheus_client import Counter

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.dispatch.retry import RetryPolicy
from smsgate.kit.batcher import Batcher
from smsgate.kit.time import utcnow
from smsgate.webhooks import outbox, signing
from smsgate.webhooks.models import DeliveryStatus
from smsgate.webhooks.ssrf import AddressRefused, GuardedTransport

log = structlog.get_logger(__name__)
T = TypeVar("T")

ATTEMPTS = Counter(
    "smsgate_webhook_attempts", "Webhook attempts, by where they left the delivery", ["outcome"]
)
# Enough of an answer's body to say why it failed, and a cap on what is read from a 2xx
# (read to the end, the connection can be reused; beyond the cap it is dropped).
_ERROR_BODY = 200
_DRAIN_LIMIT = 64 * 1024


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.retry = RetryPolicy(
            settings.webhooks_retry_base_seconds, settings.webhooks_retry_max_seconds
        )
        self.retry_for = timedelta(hours=settings.webhooks_retry_hours)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks")
        self._results: Batcher[outbox.Attempt, None] = Batcher(self._record, name="webhook-results")
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now (after a replay) rather than at the next idle tick."""
        self._wake.set()

    async def start(self) -> None:
        transport = self._transport or GuardedTransport(
            allow_private=self.settings.webhooks_allow_private,
            max_connections=self.settings.webhooks_concurrency,
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(self.settings.webhooks_timeout_seconds),
            follow_redirects=False,  # a redirect is not a delivery, and could lead anywhere
            trust_env=False,
        )
        self._results.start()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + timeout
        if self._task is not None:
            # The loop ends within one claim; after it, no new request starts.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._inflight:
            # Requests in flight get what is left of the timeout; the rest are cancelled and
            # their deliveries become due again when their leases end.
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            _, late = await asyncio.wait(set(self._inflight), timeout=left)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._results.stop()
        if self._client is not None:
            await self._client.aclose()
        self._executor.shutdown(wait=True)

    async def _db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _claim(self, limit: int) -> list[outbox.Due]:
        lease = timedelta(seconds=self.settings.webhooks_lease_seconds)
        with self.db.read() as session:
            if not outbox.any_due(session, utcnow()):
                return []
        with self.db.write() as session:
            return outbox.claim(session, self.owner, limit, utcnow(), lease)

    def _record(self, attempts: Sequence[outbox.Attempt]) -> list[None]:
        with self.db.write() as session:
            counts = outbox.record(session, self.owner, attempts, self.retry, self.retry_for)
        for status, count in counts.items():
            outcome = "retry" if status is DeliveryStatus.PENDING else status.value
            ATTEMPTS.labels(outcome).inc(count)
        return [None] * len(attempts)

    async def _run(self) -> None:
        concurrency = self.settings.webhooks_concurrency
        while not self._stopping.is_set():
            limit = min(concurrency - len(self._inflight), self.settings.webhooks_batch)
            claimed: list[outbox.Due] = []
            if limit > 0:
                try:
                    claimed = await self._db(functools.partial(self._claim, limit))
                except Exception:
                    log.exception("could not claim webhook deliveries; retrying")
                    await asyncio.sleep(1.0)
            for due in claimed:
                task = asyncio.get_running_loop().create_task(self._deliver(due))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            if limit > 0 and len(claimed) == limit:
                continue  # there may be more due right now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhooks_idle_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a request slot is free again

    async def _deliver(self, due: outbox.Due) -> None:
        attempt = await self._post(due)
        try:
            await self._results.submit(attempt)
        except Exception:
            # Not recorded: the lease ends and the delivery is tried again (at least once).
            log.exception("could not record a webhook attempt", delivery_id=due.id)

    async def _post(self, due: outbox.Due) -> outbox.Attempt:
        assert self._client is not None
        body = due.payload.encode()
        headers = signing.headers(due.secret, int(time.time()), body, due.id, due.event)
        at, started = utcnow(), time.monotonic()
        code: int | None = None
        error: str | None = None
        permanent = False
        limit = self.settings.webhooks_timeout_seconds
        try:
            async with (
                asyncio.timeout(limit),
                self._client.stream("POST", due.url, content=body, headers=headers) as answer,
            ):
                code = answer.status_code
                head = await _drain(answer)
                if not 200 <= code < 300:
                    text = head[:_ERROR_BODY].decode("utf-8", "replace").strip()
                    error = f"HTTP {code}" + (f": {text}" if text else "")
        except AddressRefused as exc:
            error, permanent = f"refused: {exc}", True
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            error, permanent = f"invalid callback URL: {exc}", True
        except TimeoutError:
            error = f"no answer within {limit:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # a bug must cost one attempt, not the worker
            log.exception("webhook attempt failed", delivery_id=due.id)
            error = f"internal error: {type(exc).__name__}"
        duration = round((time.monotonic() - started) * 1000)
        if error is not None:
            log.info("webhook attempt failed", delivery_id=due.id, url=due.url, error=error)
        return outbox.Attempt(due, at, code, error and error[:500], duration, permanent)


async def _drain(answer: httpx.Response) -> bytes:
    """The answer's first bytes; reads on to ``_DRAIN_LIMIT`` so the connection can be
    reused, and stops there (the stream is then closed with its connection)."""
    head = b""
    read = 0
    async for chunk in answer.aiter_raw():
        if len(head) < _ERROR_BODY:
            head += chunk[: _ERROR_BODY - len(head)]
        read += len(chunk)
        if read > _DRAIN_LIMIT:
            break
    return head
