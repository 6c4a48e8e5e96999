"""The send service every surface calls: validate, then accept through group commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from smsgate import metrics
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.errors import Conflict, SmsgateError
from smsgate.kit.batcher import Batcher
from smsgate.kit.time import utcnow
from smsgate.messaging.accept import Outcome, accept_batch, find_idempotent
from smsgate.messaging.prepare import Accepted, PreparedSend, SendRequest, prepare
from smsgate.pricing.service import RateBooks, rate_books
from smsgate.routing.service import RouteTable

# Above this many recipients, number resolution runs on a worker thread instead of the loop.
_INLINE_RECIPIENTS = 200
ROUTES_TTL = 2.0


class SendService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        books: RateBooks = rate_books,
        on_accept: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.books = books
        self.on_accept = on_accept
        self._batcher: Batcher[PreparedSend, Outcome] = Batcher(
            self._accept, linger=settings.accept_linger_seconds, name="accept"
        )
        self._routes = RouteTable()
        self._routes_read = 0.0

    async def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    def _prepare(self, request: SendRequest) -> PreparedSend:
        return prepare(
            request,
            max_parts=self.settings.max_parts,
            max_recipients=self.settings.max_recipients,
            allow_private_callbacks=self.settings.webhooks_allow_private,
        )

    def _accept(self, batch: Sequence[PreparedSend]) -> list[Outcome]:
        metrics.ACCEPT_BATCH.observe(len(batch))
        with self.db.write() as session:
            if time.monotonic() - self._routes_read > ROUTES_TTL:
                # The route table decides whether a message can be carried at all; a change
                # made by the operator applies within ROUTES_TTL seconds.
                self._routes = RouteTable.load(session)
                self._routes_read = time.monotonic()
            return accept_batch(
                session,
                batch,
                self.books,
                now=utcnow(),
                validity=timedelta(seconds=self.settings.validity_seconds),
                routes=self._routes,
            )

    async def send(self, request: SendRequest) -> Accepted:
        if len(request.recipients) > _INLINE_RECIPIENTS:
            prepared = await asyncio.to_thread(self._prepare, request)
        else:
            prepared = self._prepare(request)
        outcome = await self._batcher.submit(prepared)
        if isinstance(outcome, SmsgateError):
            raise outcome
        metrics.ACCEPTED.labels(request.surface).inc(outcome.count)
        if self.on_accept is not None:
            self.on_accept()
        return outcome

    def send_now(self, request: SendRequest) -> Accepted:
        """The same acceptance without the batcher, for the CLI and scripts."""
        outcome = self._accept([self._prepare(request)])[0]
        if isinstance(outcome, SmsgateError):
            raise outcome
        return outcome

    def replay(self, account_id: int, key: str, request_hash: str) -> bytes | None:
        """The stored answer for a repeated Idempotency-Key, or None for a new key."""
        with self.db.read() as session:
            row = find_idempotent(session, account_id, key)
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was already used with a different request body")
        return row.response
