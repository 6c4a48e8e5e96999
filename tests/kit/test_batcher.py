"""Group commit: batches adapt to load, an idle caller never waits, failures reach callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

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
