"""Group commit: many callers' work done in one transaction by one writer thread.

Callers ``await batcher.submit(item)``. One task takes everything queued while the previous
batch was being written and hands the whole lot to ``process`` on a dedicated thread, so
the batch size adapts to load: one item when idle, hundreds under pressure, and one commit
(one fsync) for all of them. Written by hand because no library does this for a sync
SQLAlchemy session behind an asyncio server.

Under steady load from N clients a greedy writer splits them into a batch of one (whoever
arrives first after a commit) and a batch of N - 1 (everyone who arrived during it), so half
the commits carry one request. The writer therefore lingers: when the previous batch had
more than one item it waits, at most ``linger`` seconds, for as many items as that batch
held before it starts (Kafka's ``linger.ms`` idea). An idle server never waits.

One bad item must not fail its whole batch. When ``process`` raises, the batch's transaction
was rolled back and nothing of it is stored, so the writer runs each item again alone, a
fresh ``process([item])`` in a transaction of its own: only an item that fails alone gets the
error, the others get their results as if the batch had not failed. The cost is N more
transactions (N fsyncs) for a failed batch of N, on the writer thread while the queue waits;
it should be rare, since every bad input known is refused before it joins a batch (the send
path's ``prepare`` checks), and it is logged. Not retried one by one, and given to every
caller at once as before: an error that is no item's fault (``retry_alone`` says which;
by default a database that is busy, locked, unreachable or full, which ``db.outage``
answers 503, or an ``Unavailable`` raised as such). Every item would meet it again, and a
two-second outage would become N timeouts in a row. If the database goes away during the
retries, the items not yet retried get that error at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import structlog

from smsgate.db import outage
from smsgate.errors import Unavailable

T = TypeVar("T")
R = TypeVar("R")

log = structlog.get_logger(__name__)


def item_specific(exc: Exception) -> bool:
    """Whether a failed batch's items may fare better alone: not when the database itself is
    away (busy, locked, unreachable, full), which every item would meet again."""
    return not isinstance(exc, Unavailable) and outage(exc) is None


class Batcher(Generic[T, R]):
    def __init__(
        self,
        process: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch: int = 1000,
        linger: float = 0.002,
        name: str = "batcher",
        retry_alone: Callable[[Exception], bool] = item_specific,
    ) -> None:
        self._process = process
        self._retry_alone = retry_alone
        self._name = name
        self._max_batch = max_batch
        self._linger = linger
        self._expect = 1  # how many items the last batch held
        self._gathered = asyncio.Event()
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0
        self.split = 0  # failed batches whose items were retried alone

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            # Let queued callers finish: wait until the queue drains, then stop the loop.
            while not self._queue.empty():
                await asyncio.sleep(0.01)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, item: T) -> R:
        if self._task is None:
            raise RuntimeError("the batcher is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        if self._queue.qsize() >= self._expect:
            self._gathered.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if self._linger and self._expect > 1 and self._queue.qsize() + 1 < self._expect:
                self._gathered.clear()
                self._expect -= 1  # the item taken above counts
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._gathered.wait(), self._linger)
            pending = [first]
            while len(pending) < self._max_batch and not self._queue.empty():
                pending.append(self._queue.get_nowait())
            items = [item for item, _ in pending]
            self._expect = len(items)
            try:
                results = await loop.run_in_executor(self._executor, self._process, items)
            except Exception as exc:
                if len(items) > 1 and self._retry_alone(exc):
                    log.warning(
                        "batch failed; retrying its items alone",
                        batcher=self._name,
                        size=len(items),
                        error=_summary(exc),
                    )
                    self.split += 1
                    outcomes = await loop.run_in_executor(self._executor, self._each_alone, items)
                else:  # no item's fault: every caller sees why
                    outcomes = [_Failed(exc)] * len(items)
                for (_, future), outcome in zip(pending, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, _Failed):
                        future.set_exception(outcome.error)
                    else:
                        future.set_result(outcome)
                continue
            self.batches += 1
            self.items += len(items)
            for (_, future), result in zip(pending, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _each_alone(self, items: Sequence[T]) -> list[R | _Failed]:
        """Each item in a ``process`` call (a transaction) of its own, on the writer thread."""
        outcomes: list[R | _Failed] = []
        for n, item in enumerate(items):
            try:
                outcomes.append(self._process([item])[0])
            except Exception as exc:
                outcomes.append(_Failed(exc))
                if not self._retry_alone(exc):  # the database went away: the rest would wait
                    outcomes.extend(_Failed(exc) for _ in items[n + 1 :])
                    break
        done = sum(not isinstance(outcome, _Failed) for outcome in outcomes)
        self.batches += done
        self.items += done
        return outcomes


def _summary(exc: Exception) -> str:
    """The error's kind and first line (the item that fails alone logs it whole)."""
    first = next(iter(str(exc).splitlines()), "")
    return f"{type(exc).__name__}: {first[:200]}"


class _Failed:
    """An item's own error, told apart from a result that happens to be an exception."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error
