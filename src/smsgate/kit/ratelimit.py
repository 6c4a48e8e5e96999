"""A request limit per key (a token, an address) over a fixed window, in process memory.

Fixed windows as Laravel's ``throttle`` middleware counts them: a key's window opens at its
first hit and lasts ``window`` seconds; up to ``limit`` hits pass in it, the rest are refused
until it ends. A burst can reach twice the limit across a window boundary, as in Laravel.

The counts live in one process: with N processes behind a balancer a key gets up to N times
the limit, and a restart forgets them. That suits a throughput limit on valid requests
(SMSgic's calculate), which must not pay a database write each; the limits on guessing
(failed authentications, dashboard sign-ins) are shared through the database instead
(``limits/service.py``, which returns this module's ``Decision``).

Keys whose window has ended are dropped once the table holds ``max_keys``; if every window
is still open it is emptied (limits reset) rather than allowed to grow without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int  # hits still allowed in this window
    reset_after: float  # seconds until the window ends


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._windows: dict[Hashable, tuple[float, int]] = {}  # key -> (window end, hits)
        self._lock = threading.Lock()  # sync routes call from the thread pool

    def hit(self, key: Hashable) -> Decision:
        """Count one request of ``key`` and say whether it may pass."""
        now = self._clock()
        with self._lock:
            ends, hits = self._windows.get(key, (0.0, 0))
            if ends <= now:
                if len(self._windows) >= self.max_keys:
                    self._prune(now)
                ends, hits = now + self.window, 0
            allowed = hits < self.limit
            if allowed:
                hits += 1
            self._windows[key] = (ends, hits)
        return Decision(allowed, self.limit, self.limit - hits, ends - now)

    def _prune(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        if len(self._windows) >= self.max_keys:
            self._windows.clear()
