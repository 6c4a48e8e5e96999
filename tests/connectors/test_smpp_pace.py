from __future__ import annotations

import pytest

from smsgate.connectors.smpp.pace import Pace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_limit_never_waits() -> None:
    pace = Pace(None, clock=Clock())
    assert [pace.reserve() for _ in range(1000)] == [0.0] * 1000


def test_rate_with_a_small_burst() -> None:
    pace = Pace(100, clock=Clock())  # burst of 10
    waits = [pace.reserve() for _ in range(30)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.01 * n for n in range(1, 21)])


def test_throttle_pauses_doubles_and_halves_the_rate() -> None:
    clock = Clock()
    pace = Pace(100, clock=clock)
    pace.throttled()
    assert pace.reserve() == pytest.approx(0.1)
    pace.throttled()  # same burst of answers: ignored
    assert pace.throttles == 1
    assert pace.rate(clock.now) == pytest.approx(50)
    clock.now += 0.15
    pace.throttled()  # again soon after the pause: longer pause
    assert pace.throttles == 2
    assert pace.reserve() == pytest.approx(0.2, abs=0.03)
    clock.now += 60
    assert pace.rate(clock.now) == 100
    pace.throttled()  # long after: back to the shortest pause
    assert pace.reserve() == pytest.approx(0.1)


def test_unlimited_pace_still_pauses() -> None:
    clock = Clock()
    pace = Pace(None, clock=clock)
    pace.throttled()
    assert pace.reserve() == pytest.approx(0.1)
    clock.now += 0.1
    assert pace.reserve() == 0.0
