"""Authentication with a short-lived in-process cache, and a brake on guessing.

The hot send path must not read the database per request just to check a token, so each
process remembers a token's answer for ``ttl`` seconds (2 by default): a revoked token
stops working within that time. Account status and balance are read again inside every
send transaction, so a suspension stops sends at once.

Failed authentications (an unknown or revoked token; a missing one guesses nothing and is
not counted) are counted per client address and per token in the database
(``limits/service.py``), so every process on it counts the same failures and a restart
forgets none. A key that reaches its limit is blocked until its window ends: every
authentication from that address or with that token is answered 429, a valid token's too,
or the difference between 429 and 200 would still tell a guesser when a guess is right.

What each request pays: a failure writes (one upsert of both keys; on the event loop's
routes on a worker thread, ``principal_async``); a valid token's request never writes. Its
cache miss (once per token, process and ``ttl``) reads the address's window in the same read
transaction as the token, so a guess that is right is refused by a process that never saw
the failures before it; its cache hit pays one dictionary test, and only while this process
knows of something blocked.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from smsgate.accounts.service import Principal, authenticate, hash_token, record_token_use
from smsgate.db import Database
from smsgate.errors import SmsgateError, TooManyRequests, Unauthenticated
from smsgate.kit.time import utcnow
from smsgate.limits.service import Hit, Rule, SharedLimits


@dataclass(frozen=True, slots=True)
class FailureLimits:
    per_address: int = 30
    per_token: int = 10
    window: float = 300.0

    def rules(self) -> tuple[Rule, Rule]:
        """The limits by address and by token (a token hash, stored as its digest)."""
        return (
            Rule("auth_address", self.per_address, self.window),
            Rule("auth_token", self.per_token, self.window, hashed=True),
        )


class Authenticator:
    def __init__(
        self,
        db: Database,
        ttl: float = 2.0,
        max_entries: int = 100_000,
        *,
        limits: FailureLimits | None = None,
        shared: SharedLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self.limits = limits or FailureLimits()
        self.shared = shared or SharedLimits(db, clock=clock)
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | SmsgateError]] = {}
        self._used: dict[int, datetime] = {}
        self._by_address, self._by_token = self.limits.rules()
        # What this process knows to be blocked, from its own failures and its cache misses:
        # ("address", a) | ("token", hash) -> end. The database holds what every process knows.
        self._blocked: dict[Hashable, float] = {}
        self._last_end = 0.0  # when every block has ended, the table is emptied
        self._lock = threading.Lock()  # sync routes authenticate from the thread pool

    def principal(self, token: str | None, address: str = "") -> Principal:
        """The token's principal. ``address`` is the caller's (``""``: not counted by address).

        A failure is counted here, a database write: call it from a worker thread (a sync
        route or dependency), or use ``principal_async`` on the event loop."""
        key = hash_token(token) if token else None
        try:
            return self._principal(token, key, address)
        except Unauthenticated:
            if key is not None:
                self.failed(address, key)  # 429 instead once past a limit
            raise

    async def principal_async(self, token: str | None, address: str = "") -> Principal:
        """``principal`` for a route on the event loop: a failure is counted on a thread."""
        key = hash_token(token) if token else None
        try:
            return self._principal(token, key, address)
        except Unauthenticated:
            if key is not None:
                await asyncio.to_thread(self.failed, address, key)
            raise

    def _principal(self, token: str | None, key: str | None, address: str) -> Principal:
        if self._blocked:  # empty, and so free, unless someone has been guessing
            self.refuse_if_blocked(address, key)
        if key is None:
            raise Unauthenticated("an API token is required")
        now = self._clock()
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            answer = self._look_up(token or "", address)
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            hit = self._cache[key] = (now + self.ttl, answer)
            if self._blocked:  # another process's failures blocked this caller
                self.refuse_if_blocked(address, key)
        answer = hit[1]
        if isinstance(answer, SmsgateError):
            raise answer
        self._used[answer.token_id] = utcnow()
        return answer

    def _look_up(self, token: str, address: str) -> Principal | SmsgateError:
        """The token's answer and, unless it is a failure (counted next), whether its caller
        is blocked by failures other processes counted; one read transaction."""
        with self.db.read() as session:
            try:
                answer: Principal | SmsgateError = authenticate(session, token)
            except SmsgateError as exc:
                answer = exc
            if address and not isinstance(answer, Unauthenticated):
                for (_, blocked), seconds in self.shared.at_limit(
                    session, (self._by_address, address)
                ):
                    self._block(("address", blocked), seconds)
        return answer

    def refuse_if_blocked(self, address: str, credential: str | None = None) -> None:
        """Raise 429 while ``address`` or ``credential`` (a token hash) is blocked here."""
        now = self._clock()
        if now >= self._last_end:
            with self._lock:
                if now >= self._last_end:
                    self._blocked.clear()
            return
        for blocked in (("address", address), ("token", credential)):
            end = self._blocked.get(blocked) if blocked[1] else None
            if end is not None and end > now:
                raise _too_many(end - now)

    def failed(self, address: str, credential: str) -> None:
        """Count one failed authentication for ``address`` (unless empty) and ``credential``
        (a token hash); block what reaches its limit, and raise 429 for what is past it
        (failures counted by other processes too)."""
        hits: list[tuple[str, Hit]] = [("token", (self._by_token, credential))]
        if address:
            hits.insert(0, ("address", (self._by_address, address)))
        decisions = self.shared.hit(*(h for _, h in hits))
        refused: float | None = None
        for (kind, (_, key)), decision in zip(hits, decisions, strict=True):
            if decision.remaining <= 0:
                self._block((kind, key), decision.reset_after)
            if not decision.allowed:
                refused = max(refused or 0.0, decision.reset_after)
        if refused is not None:
            raise _too_many(refused)

    def _block(self, blocked: tuple[str, str], seconds: float) -> None:
        with self._lock:
            now = self._clock()
            if len(self._blocked) >= self.max_entries:
                self._blocked = {k: end for k, end in self._blocked.items() if end > now}
            self._blocked[blocked] = now + seconds
            self._last_end = max(self._last_end, now + seconds)

    def forget(self) -> None:
        self._cache.clear()

    def flush_usage(self) -> None:
        """Write the collected ``last_used_at`` values in one transaction."""
        used, self._used = self._used, {}
        if used:
            with self.db.write() as session:
                record_token_use(session, used)


def _too_many(seconds: float) -> TooManyRequests:
    return TooManyRequests(
        "too many failed authentications; check the API token and retry later",
        retry_after=math.ceil(seconds),
        code="too_many_failed_authentications",
    )
