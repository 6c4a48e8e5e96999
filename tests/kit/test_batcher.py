"""Group commit: batches adapt to load, an idle caller never waits, failures reach callers:
one bad item fails alone, an outage fails the batch at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy.exc import OperationalError

from smsgate.errors import Unavailable
from smsgate.kit.batcher import Batcher


class Recorder:
    def __init__(self, seconds: float = 0.001, fail_on: int | None = None) -> None:
        self.sizes: list[int] = []
        self.seconds = seconds
        self.fail_on = fail_on

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.sizes.append(len(items))
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError("the database said no")
        time.sleep(self.seconds)  # a commit: releases the GIL like an fsync does
        return [item * 2 for item in items]


async def _clients(batcher: Batcher[int, int], clients: int, rounds: int) -> None:
    async def client(n: int) -> None:
        for i in range(rounds):
            assert await batcher.submit(n * 1000 + i) == (n * 1000 + i) * 2
            # The answer's way back and the next request's way in, as over a network: the
            # clients come back one after the other, 2 ms apart, never all at once.
            await asyncio.sleep(0.002 * n)

    await asyncio.gather(*(client(n) for n in range(clients)))


@pytest.mark.parametrize("linger", [0.05, 0.0])
def test_steady_clients_share_commits(linger: float) -> None:
    recorder = Recorder(seconds=0.0005)

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, linger=linger)
        batcher.start()
        await _clients(batcher, clients=8, rounds=12)
        await batcher.stop()

    asyncio.run(run())
    assert sum(recorder.sizes) == 8 * 12
    average = sum(recorder.sizes) / len(recorder.sizes)
    if linger:
        # A greedy writer takes whoever comes back first alone, then the next, ...: almost
        # every batch would hold one item. Lingering gathers as many as the last batch had.
        assert average > 6, recorder.sizes
    else:
        assert average < 6, recorder.sizes  # the scenario does split a greedy writer's batches


def test_an_idle_caller_is_answered_without_lingering() -> None:
    recorder = Recorder(seconds=0)

    async def run() -> float:
        batcher: Batcher[int, int] = Batcher(recorder, linger=0.5)
        batcher.start()
        started = time.monotonic()
        for i in range(5):
            assert await batcher.submit(i) == i * 2
        elapsed = time.monotonic() - started
        await batcher.stop()
        return elapsed

    assert asyncio.run(run()) < 0.5  # one linger would already take 0.5 s
    assert recorder.sizes == [1, 1, 1, 1, 1]


def test_a_failed_batch_fails_its_callers_and_the_next_batch_succeeds() -> None:
    recorder = Recorder(seconds=0, fail_on=7)

    async def run() -> None:
        batcher: Batcher[int, int] = Batcher(recorder)
        batcher.start()
        with pytest.raises(ValueError, match="the database said no"):
            await batcher.submit(7)
        assert await batcher.submit(8) == 16
        await batcher.stop()

    asyncio.run(run())


LOCKED = OperationalError("INSERT ...", {}, Exception("database is locked"))
HOLD = -1  # the item that holds the writer while the others queue up


class Gated:
    """``process`` that holds the first batch until released, so that the items submitted
    meanwhile form one batch; ``fail`` says what a batch raises (or None)."""

    def __init__(self, fail: Callable[[Sequence[int]], Exception | None]) -> None:
        self.fail = fail
        self.calls: list[list[int]] = []
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[object]:
        self.calls.append(list(items))
        if HOLD in items:
            self.release.wait(5)
        error = self.fail(items)
        if error is not None:
            raise error
        return [ValueError("an outcome") if i == 5 else i * 2 for i in items]


async def _one_batch(process: Gated, items: Sequence[int]) -> list[object]:
    """Submit ``items`` while the writer is held, so that they share one batch; each
    caller's answer (its result or its exception)."""
    batcher: Batcher[int, object] = Batcher(process, linger=0)
    batcher.start()
    held = asyncio.ensure_future(batcher.submit(HOLD))
    while not process.calls:
        await asyncio.sleep(0.001)
    calls = [asyncio.ensure_future(batcher.submit(i)) for i in items]
    while batcher._queue.qsize() < len(items):
        await asyncio.sleep(0.001)
    process.release.set()
    await held
    answers = await asyncio.gather(*calls, return_exceptions=True)
    await batcher.stop()
    return list(answers)


def test_one_bad_item_fails_alone_and_the_others_succeed() -> None:
    def fail(items: Sequence[int]) -> Exception | None:
        return ValueError("item 7 broke the batch") if 7 in items else None

    process = Gated(fail)
    answers = asyncio.run(_one_batch(process, range(10)))
    assert isinstance(answers[7], ValueError) and str(answers[7]) == "item 7 broke the batch"
    # the others as if the batch had not failed; an outcome that is an error stays a result
    assert [a for i, a in enumerate(answers) if i not in (5, 7)] == [0, 2, 4, 6, 8, 12, 16, 18]
    assert str(answers[5]) == "an outcome"
    # the held batch, the failed batch of 10, then each of its items alone
    assert process.calls == [[HOLD], list(range(10)), *([i] for i in range(10))]


@pytest.mark.parametrize("outage", [LOCKED, Unavailable("the database is away")])
def test_an_outage_fails_the_whole_batch_at_once(outage: Exception) -> None:
    """No item's fault: retrying each alone would meet it N times (N timeouts in a row)."""
    process = Gated(lambda items: outage if 7 in items else None)
    answers = asyncio.run(_one_batch(process, range(10)))
    assert all(a is outage for a in answers)
    assert process.calls == [[HOLD], list(range(10))]


def test_the_database_going_away_during_the_retries_fails_the_rest_at_once() -> None:
    def fail(items: Sequence[int]) -> Exception | None:
        if len(items) > 1 and 7 in items:
            return ValueError("item 7 broke the batch")
        return LOCKED if items == [3] else None

    process = Gated(fail)
    answers = asyncio.run(_one_batch(process, range(10)))
    assert answers[:3] == [0, 2, 4]
    assert all(a is LOCKED for a in answers[3:])
    assert process.calls == [[HOLD], list(range(10)), [0], [1], [2], [3]]
