"""Authentication with a short-lived in-process cache.

The hot send path must not read the database per request just to check a token, so each
process remembers a token's answer for ``ttl`` seconds (2 by default): a revoked token
stops working within that time. Account status and balance are read again inside every
send transaction, so a suspension stops sends at once.
"""

from __future__ import annotations

import time
from datetime import datetime

from smsgate.accounts.service import Principal, authenticate, hash_token, record_token_use
from smsgate.db import Database
from smsgate.errors import SmsgateError, Unauthenticated
from smsgate.kit.time import utcnow


class Authenticator:
    def __init__(self, db: Database, ttl: float = 2.0, max_entries: int = 100_000) -> None:
        self.db = db
        self.ttl = ttl
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | SmsgateError]] = {}
        self._used: dict[int, datetime] = {}

    def principal(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("an API token is required")
        key = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            try:
                with self.db.read() as session:
                    answer: Principal | SmsgateError = authenticate(session, token)
            except SmsgateError as exc:
                answer = exc
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            hit = self._cache[key] = (now + self.ttl, answer)
        answer = hit[1]
        if isinstance(answer, SmsgateError):
            raise answer
        self._used[answer.token_id] = utcnow()
        return answer

    def forget(self) -> None:
        self._cache.clear()

    def flush_usage(self) -> None:
        """Write the collected ``last_used_at`` values in one transaction."""
        used, self._used = self._used, {}
        if used:
            with self.db.write() as session:
                record_token_use(session, used)
