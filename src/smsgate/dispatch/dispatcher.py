"""The dispatcher loop: claim due messages, route them to connectors, record the answers.

Database work runs on one dedicated thread (the async loop never blocks on a query); the
receipts of every connector go through a group-commit batcher. Each cycle records the
previous batch's answers and claims the next batch in one commit. Periodic tasks reload
connectors and routes from the database and expire what cannot leave in time or never got
a receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import structlog

from smsgate import metrics
from smsgate.config import Settings
from smsgate.connectors.base import Connector, InboundMessage, Outcome, Receipt, SubmitResult
from smsgate.db import Database
from smsgate.dispatch.leases import Heartbeat
from smsgate.dispatch.outbox import (
    Claimed,
    apply_receipts,
    claim,
    expire_unconfirmed,
    expire_unsent,
    forget_early,
    reapply_early,
    record_submits,
    release,
    renew_claims,
    unconfirmed_parts,
)
from smsgate.dispatch.pool import ConnectorPool
from smsgate.dispatch.retry import RetryPolicy
from smsgate.inbound import service as inbound
from smsgate.inbound.keywords import Keywords
from smsgate.kit.batcher import Batcher
from smsgate.kit.time import utcnow
from smsgate.routing.service import RoutingFacts

log = structlog.get_logger(__name__)
T = TypeVar("T")
# How long a message that no healthy connector can take waits before it is tried again: at
# most this, at least half of it (no_connector_wait). The jitter matters: a connection that
# drops on a fixed period (an SMSC cutting idle or long sessions every N seconds) seen again
# after exactly 5 s is seen at the same phase of its period, down each time while it is up
# half the time; messages waited a minute behind a connector that was bound every second.
NO_CONNECTOR_WAIT = timedelta(seconds=5)
# How long a message waits when its route's connectors are held by another dispatcher: it is
# given back quickly so that the holder claims it.
HELD_ELSEWHERE_WAIT = timedelta(seconds=0.2)
Routed = tuple[Claimed, list[str]]
Answered = tuple[str, list[Claimed], list[SubmitResult]]


def no_connector_wait() -> timedelta:
    return NO_CONNECTOR_WAIT * random.uniform(0.5, 1.0)


class Dispatcher:
    def __init__(
        self, db: Database, settings: Settings, connectors: Sequence[Connector] = ()
    ) -> None:
        self.db = db
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.pool = ConnectorPool(db, settings, connectors, owner=self.owner)
        self.retry = RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch")
        self._receipts: Batcher[Sequence[Receipt], int] = Batcher(
            self._apply_receipts, name="receipts"
        )
        self._inbound: Batcher[Sequence[InboundMessage], int] = Batcher(
            self._record_inbound, name="inbound"
        )
        self._keywords = Keywords.from_settings(settings)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._next: list[Claimed] = []  # claimed in the previous commit, not yet submitted
        self._current: list[Claimed] = []  # being submitted now, not yet recorded
        # Renews the claims of both lists from its own task: a submit that outlives the
        # claim lease (a slow upstream) must not let another dispatcher claim and resend.
        self._claims = Heartbeat("claims", settings.dispatch_lease_seconds / 3, self._renew_claims)
        self._wake = asyncio.Event()

    async def _db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def wake(self) -> None:
        """Called by the API after accepting messages so they leave without waiting a tick."""
        self._wake.set()

    async def start(self) -> None:
        self._receipts.start()
        self._inbound.start()
        await self.refresh()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._claim_loop()),
            loop.create_task(self._sweep_loop()),
            loop.create_task(self._refresh_loop()),
        ]
        self._claims.start()

    async def refresh(self) -> None:
        """Bring connectors and routes in line with the database."""
        configs, routes, costs, plans = await self._db(self.pool.snapshot)
        started = await self.pool.apply(
            configs, routes, costs, plans, self._on_receipts, self._on_inbound
        )
        for connector in started:
            await self._recover(connector)

    async def _recover(self, connector: Connector) -> None:
        recover = getattr(connector, "recover", None)
        if recover is None:
            return
        name = connector.name

        def pending() -> list[tuple[str, str]]:
            with self.db.read() as session:
                return unconfirmed_parts(session, name)

        recover(await self._db(pending))

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)
        for task in self._tasks:
            task.cancel()
        await self._claims.stop()
        if self._next:
            ids = [c.message.id for c in self._next]

            def give_back() -> None:
                with self.db.write() as session:
                    release(session, self.owner, ids)

            # With the database away (down, locked, full) the claims simply expire; the
            # connectors below must be stopped all the same.
            with contextlib.suppress(Exception):
                await self._db(give_back)
        await self.pool.stop_all()
        with contextlib.suppress(Exception):  # unreleased leases simply expire
            await self._db(self.pool.release_leases)
        await self._receipts.stop()
        await self._inbound.stop()
        self._executor.shutdown(wait=True)

    def _renew_claims(self) -> None:
        ids = [c.message.id for c in self._current + self._next]
        if ids:
            until = utcnow() + timedelta(seconds=self.settings.dispatch_lease_seconds)
            with self.db.write() as session:
                renew_claims(session, self.owner, ids, until)

    async def _on_receipts(self, receipts: Sequence[Receipt]) -> None:
        await self._receipts.submit(receipts)

    def _apply_receipts(self, groups: Sequence[Sequence[Receipt]]) -> list[int]:
        receipts = [r for group in groups for r in group]
        with self.db.write() as session:
            now = utcnow()
            changed = apply_receipts(session, receipts, now) + reapply_early(session, now)
        metrics.RECEIPTS.inc(len(receipts))
        return [changed] * len(groups)

    async def _on_inbound(self, messages: Sequence[InboundMessage]) -> None:
        await self._inbound.submit(messages)

    def _record_inbound(self, groups: Sequence[Sequence[InboundMessage]]) -> list[int]:
        """Every connector's inbound messages queued meanwhile: one transaction."""
        messages = [m for group in groups for m in group]
        with self.db.write() as session:
            stored = inbound.record(session, messages, self._keywords, utcnow())
        log.info("inbound messages stored", count=len(stored))
        return [len(stored)] * len(groups)

    async def _claim_loop(self) -> None:
        lease = timedelta(seconds=self.settings.dispatch_lease_seconds)
        while not self._stopping.is_set():
            try:
                moved = await self._cycle(lease)
            except Exception:
                log.exception("dispatch cycle failed; retrying")
                self._current = []  # unrecorded: their leases lapse and they are sent again
                moved = 0
                await asyncio.sleep(1.0)
            if moved == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_idle_seconds)

    def _route(
        self, claimed: Sequence[Claimed]
    ) -> tuple[list[Routed], list[Claimed], list[Claimed]]:
        """Each message with its healthy candidate connectors held here, best first; those
        that no healthy connector can take now; and those whose route's connectors are held
        by another dispatcher (given back at once for it to claim)."""
        routed: list[Routed] = []
        waiting: list[Claimed] = []
        elsewhere: list[Claimed] = []
        # A connector's health is asked once per cycle, not once per message and candidate.
        health: dict[str, bool] = {}

        def healthy(name: str) -> bool:
            known = health.get(name)
            if known is None:
                known = health[name] = self.pool.healthy(name)
            return known

        for c in claimed:
            facts = RoutingFacts(
                c.account_id,
                self.pool.plan_of(c.account_id),
                c.message.msisdn,
                c.country,
                c.mcc,
                c.mnc,
                c.message.sender,
                c.requested_type,
            )
            candidates = self.pool.candidates(facts, healthy)
            if candidates:
                routed.append((c, candidates))
            elif self.pool.held_elsewhere(facts):
                elsewhere.append(c)
            else:
                waiting.append(c)
        return routed, waiting, elsewhere

    async def _submit_with_failover(self, routed: list[Routed]) -> list[Answered]:
        """Submit each message to its first candidate; a TRANSIENT answer moves it to the
        next healthy candidate in the same cycle (priority failover). What is finally
        answered is returned grouped by the connector that answered it."""
        answered: list[Answered] = []
        pending = routed
        while pending:
            groups: dict[str, list[Routed]] = defaultdict(list)
            for c, candidates in pending:
                groups[candidates[0]].append((c, candidates[1:]))
            names = list(groups)
            answers = await asyncio.gather(
                *(self._submit(n, [c for c, _ in groups[n]]) for n in names)
            )
            pending = []
            for name, results in zip(names, answers, strict=True):
                by_id = {r.message_id: r for r in results}
                kept: list[Claimed] = []
                for c, rest in groups[name]:
                    alive = [n for n in rest if self.pool.healthy(n)]
                    if by_id[c.message.id].outcome is Outcome.TRANSIENT and alive:
                        pending.append((c, alive))
                    else:
                        kept.append(c)
                if kept:
                    answered.append((name, kept, [by_id[c.message.id] for c in kept]))
        return answered

    async def _submit(self, name: str, batch: list[Claimed]) -> list[SubmitResult]:
        try:
            return await self.pool.live[name].submit([c.message for c in batch])
        except Exception as exc:  # a broken connector must not stop the others
            log.exception("submit failed", connector=name)
            error = f"connector_error:{type(exc).__name__}"
            return [SubmitResult(c.message.id, Outcome.TRANSIENT, error_code=error) for c in batch]

    async def _cycle(self, lease: timedelta) -> int:
        batch_size = self.settings.dispatch_batch
        claimed, self._next = self._next, []
        if not claimed:

            def do_claim() -> list[Claimed]:
                with self.db.write() as session:
                    return claim(session, self.owner, batch_size, utcnow(), lease)

            claimed = await self._db(do_claim)
        if not claimed:
            return 0
        self._current = claimed
        routed, waiting, elsewhere = self._route(claimed)
        answered = await self._submit_with_failover(routed)
        now = utcnow()

        def record_and_claim() -> list[Claimed]:
            # Recording this batch and claiming the next share one commit: on SQLite every
            # commit is an fsync that also holds up the API's writer.
            with self.db.write() as session:
                for name, batch, results in answered:
                    record_submits(session, self.owner, name, batch, results, now, self.retry)
                release(
                    session, self.owner, [c.message.id for c in waiting], now + no_connector_wait()
                )
                release(
                    session,
                    self.owner,
                    [c.message.id for c in elsewhere],
                    now + HELD_ELSEWHERE_WAIT,
                )
                if self._stopping.is_set():
                    return []
                return claim(session, self.owner, batch_size, utcnow(), lease)

        self._next = await self._db(record_and_claim)
        self._current = []
        for _, batch, results in answered:
            for c in batch:
                metrics.DISPATCH_LATENCY.observe((now - c.created_at).total_seconds())
            metrics.SUBMITS.inc(len(results))
        return len(claimed) - len(waiting) - len(elsewhere)

    async def _refresh_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 2.0)
            if self._stopping.is_set():
                return
            try:
                await self.refresh()
            except Exception:
                log.exception("could not reload connectors and routes")

    async def _sweep_loop(self) -> None:
        grace = timedelta(hours=1)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 2.0)
            try:

                def sweep() -> int:
                    with self.db.write() as session:
                        now = utcnow()
                        reapply_early(session, now)
                        forget_early(
                            session, now - timedelta(seconds=self.settings.validity_seconds)
                        )
                        return expire_unsent(session, now) + expire_unconfirmed(session, now, grace)

                expired = await self._db(sweep)
                if expired:
                    log.info("expired messages", count=expired)
            except Exception:
                log.exception("sweep failed")
