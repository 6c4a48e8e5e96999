from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delay before attempt ``n + 1`` after ``n`` failed attempts:
    ``min(cap, base * 2 ** (n - 1))`` scaled by a random factor in [0.5, 1] (jitter), so
    that messages failed together do not come back together. ``n`` is counted in the
    database (``messages.attempts``), never in memory.
    """

    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempts: int) -> timedelta:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))
