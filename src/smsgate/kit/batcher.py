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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        process: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch: int = 1000,
        linger: float = 0.002,
        name: str = "batcher",
    ) -> None:
        self._process = process
        self._max_batch = max_batch
        self._linger = linger
        self._expect = 1  # how many items the last batch held
        self._gathered = asyncio.Event()
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

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
            except Exception as exc:  # the whole batch failed: every caller sees why
                for _, future in pending:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(items)
            for (_, future), result in zip(pending, results, strict=True):
                if not future.done():
                    future.set_result(result)
