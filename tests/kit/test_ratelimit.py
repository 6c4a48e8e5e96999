"""The fixed-window rate limiter, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from smsgate.kit.ratelimit import Decision, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_allows_the_limit_then_refuses_until_it_ends() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.hit("t").remaining for _ in range(3)] == [2, 1, 0]
    clock.now += 20
    assert limiter.hit("t") == Decision(allowed=False, limit=3, remaining=0, reset_after=40.0)
    clock.now += 39.5
    assert not limiter.hit("t").allowed
    clock.now += 0.5  # the window opened at the first hit has ended
    assert limiter.hit("t") == Decision(allowed=True, limit=3, remaining=2, reset_after=60.0)


def test_keys_are_counted_apart() -> None:
    limiter = RateLimiter(1, 60.0, clock=Clock())
    assert limiter.hit(1).allowed
    assert not limiter.hit(1).allowed
    assert limiter.hit(2).allowed
    assert limiter.hit((1, "other")).allowed


def test_ended_windows_are_dropped_when_the_table_is_full() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 10.0, clock=clock, max_keys=3)
    for key in "abc":
        limiter.hit(key)
    clock.now += 5
    limiter.hit("d")  # every window is still open: the table is emptied, limits reset
    assert limiter.hit("a").allowed
    clock.now += 15  # the windows of "d" and "a" have ended
    limiter.hit("b")
    clock.now += 1
    limiter.hit("e")  # the table is full: the ended windows go, the open one stays
    assert set(limiter._windows) == {"b", "e"}
    assert not limiter.hit("b").allowed


def test_concurrent_hits_never_pass_more_than_the_limit() -> None:
    limiter = RateLimiter(1000, 60.0)
    passed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [limiter.hit("shared").allowed for _ in range(500)]
        with lock:
            passed.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(passed) == 1000


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0)])
def test_nonsense_limits_are_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(limit, window)
