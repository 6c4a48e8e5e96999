"""When the next submit_sm of a connector may leave.

A token bucket in its reservation form: each caller takes the next free send time and sleeps
until it, so waiters neither race nor overtake one another. At most ``tps`` parts a second
(no limit if None), with bursts of up to a tenth of a second's worth after an idle spell.

When the SMSC answers ESME_RTHROTTLED or ESME_RMSGQFUL (``throttled()``), nothing leaves for
a pause: 0.1 s, doubled when the throttling goes on within a second of the last pause (up
to 5 s), back to 0.1 s otherwise; a burst of throttled answers to parts already in flight
counts once. With a ``tps``, the rate also halves (not below a tenth of ``tps``) and climbs
back by a tenth of ``tps`` each second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Pace"]


class Pace:
    def __init__(
        self,
        tps: float | None,
        *,
        pause_min: float = 0.1,
        pause_max: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tps is not None and tps <= 0:
            raise ValueError("tps must be positive (or None for no limit)")
        self.tps = tps
        self.pause_min = pause_min
        self.pause_max = pause_max
        self._clock = clock
        self._next = 0.0
        self._pause = pause_min
        self._paused_until = 0.0
        self._throttled_at = -1e9
        self._rate_at_throttle = tps or 0.0
        self.throttles = 0

    def rate(self, now: float) -> float | None:
        """Parts a second allowed now (None: no limit)."""
        if self.tps is None:
            return None
        recovered = self._rate_at_throttle + (now - self._throttled_at) * self.tps / 10
        return min(self.tps, recovered)

    def reserve(self) -> float:
        """Take the next send time; returns how long to wait for it."""
        now = self._clock()
        if self.tps is None:  # no limit: only a pause after throttling holds it back
            wait = self._next - now
            return wait if wait > 0.0 else 0.0
        rate = self.rate(now)
        if rate is None:
            return max(0.0, self._next - now)
        interval = 1.0 / rate
        burst = max(1.0, rate / 10)
        start = max(self._next, now - (burst - 1) * interval)
        self._next = start + interval
        return max(0.0, start - now)

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def throttled(self) -> None:
        now = self._clock()
        if now < self._paused_until:
            return
        self.throttles += 1
        again = now - self._paused_until < 1.0
        self._pause = min(self._pause * 2, self.pause_max) if again else self.pause_min
        self._paused_until = now + self._pause
        self._next = max(self._next, self._paused_until)
        if self.tps is not None:
            current = self.rate(now) or self.tps
            self._rate_at_throttle = max(self.tps / 10, current / 2)
            self._throttled_at = now
