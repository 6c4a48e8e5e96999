"""Authentication with a short-lived in-process cache, and a brake on guessing.

The hot send path must not read the database per request just to check a token, so each
process remembers a token's answer for ``ttl`` seconds (2 by default): a revoked token
stops working within that time. Account status and balance are read again inside every
send transaction, so a suspension stops sends at once.

Failed authentications (an unknown or revoked token; a missing one guesses nothing and is
not counted) are counted per client address and per token (``FailureLimits``). A key that
reaches its limit is blocked until its window ends: every authentication from that address
or with that token is answered 429, a valid token's too, or the difference between 429 and
200 would still tell a guesser when a guess is right. A valid token's cost is one more
dictionary test, and only while something is blocked.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from smsgate.accounts.service import Principal, authenticate, hash_token, record_token_use
from smsgate.db import Database
from smsgate.errors import SmsgateError, TooManyRequests, Unauthenticated
from smsgate.kit.ratelimit import RateLimiter
from smsgate.kit.time import utcnow


@dataclass(frozen=True, slots=True)
class FailureLimits:
    per_address: int = 30
    per_token: int = 10
    window: float = 300.0


class Authenticator:
    def __init__(
        self,
        db: Database,
        ttl: float = 2.0,
        max_entries: int = 100_000,
        *,
        limits: FailureLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self.limits = limits or FailureLimits()
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | SmsgateError]] = {}
        self._used: dict[int, datetime] = {}
        self._by_address = RateLimiter(self.limits.per_address, self.limits.window, clock=clock)
        self._by_token = RateLimiter(self.limits.per_token, self.limits.window, clock=clock)
        self._blocked: dict[Hashable, float] = {}  # ("address", a) | ("token", hash) -> end
        self._last_end = 0.0  # when every block has ended, the table is emptied
        self._lock = threading.Lock()  # sync routes authenticate from the thread pool

    def principal(self, token: str | None, address: str = "") -> Principal:
        """The token's principal. ``address`` is the caller's (``""``: not counted by address)."""
        key = hash_token(token) if token else None
        if self._blocked:  # empty, and so free, unless someone has been guessing
            self.refuse_if_blocked(address, key)
        if key is None:
            raise Unauthenticated("an API token is required")
        now = self._clock()
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            try:
                with self.db.read() as session:
                    answer: Principal | SmsgateError = authenticate(session, token or "")
            except SmsgateError as exc:
                answer = exc
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            hit = self._cache[key] = (now + self.ttl, answer)
        answer = hit[1]
        if isinstance(answer, SmsgateError):
            if isinstance(answer, Unauthenticated):
                self.failed(address, key)
            raise answer
        self._used[answer.token_id] = utcnow()
        return answer

    def refuse_if_blocked(self, address: str, credential: str | None = None) -> None:
        """Raise 429 while ``address`` or ``credential`` (a token hash, or another
        credential's digest, such as a sign-in form's) is blocked."""
        now = self._clock()
        if now >= self._last_end:
            with self._lock:
                if now >= self._last_end:
                    self._blocked.clear()
            return
        for blocked in (("address", address), ("token", credential)):
            end = self._blocked.get(blocked) if blocked[1] else None
            if end is not None and end > now:
                raise TooManyRequests(
                    "too many failed authentications; check the API token and retry later",
                    retry_after=math.ceil(end - now),
                    code="too_many_failed_authentications",
                )

    def failed(self, address: str, credential: str | None) -> None:
        """Count one failed authentication; block what reaches its limit."""
        for blocked, limiter in (
            (("address", address), self._by_address),
            (("token", credential), self._by_token),
        ):
            if not blocked[1]:
                continue
            decision = limiter.hit(blocked[1])
            if decision.remaining <= 0:
                with self._lock:
                    now = self._clock()
                    if len(self._blocked) >= self.max_entries:
                        self._blocked = {k: end for k, end in self._blocked.items() if end > now}
                    self._blocked[blocked] = now + decision.reset_after
                    self._last_end = max(self._last_end, now + decision.reset_after)

    def forget(self) -> None:
        self._cache.clear()

    def flush_usage(self) -> None:
        """Write the collected ``last_used_at`` values in one transaction."""
        used, self._used = self._used, {}
        if used:
            with self.db.write() as session:
                record_token_use(session, used)
