"""Fixed-window limits kept in the database, so that every process counts the same hits.

The windows are Laravel's, as in ``kit/ratelimit.py``: a key's window opens at its first hit
and lasts ``window`` seconds; a hit is allowed while the window holds at most ``limit``
hits, every hit counts (refused ones too, which changes nothing: the window does not move).
With several API processes on one database a client gets the limit once, not once per
process, and a restart forgets nothing.

A hit is one statement, atomic on both engines:

    INSERT INTO limit_windows (scope, key, window_end, hits) VALUES (...), (...)
    ON CONFLICT (scope, key) DO UPDATE SET
        hits = CASE WHEN limit_windows.window_end <= :now THEN 1 ELSE limit_windows.hits + 1 END,
        window_end = CASE WHEN limit_windows.window_end <= :now
                          THEN excluded.window_end ELSE limit_windows.window_end END
    RETURNING scope, key, window_end, hits

PostgreSQL locks the row it updates (rows go in sorted order, so two transactions never
wait for each other in a circle); SQLite (3.24 for the upsert, 3.35 for ``RETURNING``)
holds its database lock from ``BEGIN IMMEDIATE``. Callers write only for what must be
counted: a failed authentication, a sign-in attempt; a valid token's request never writes.

Keys that name a secret (a token) or personal data (an email) are stored as a SHA-256
digest, never as given; so is any key too long or too odd for the column. Rows whose window
has ended mean nothing: the transaction of a hit deletes them, at most once a minute per
process, so the table holds about the keys of the last window.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, delete, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from smsgate.db import Database, UTCDateTime
from smsgate.kit.ratelimit import Decision
from smsgate.limits.models import LimitWindow

MAX_CLEAR_KEY = 64
_DIGEST = "sha256:"


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit: ``limit`` hits per key in ``window`` seconds, counted under ``scope``."""

    scope: str
    limit: int
    window: float
    hashed: bool = False  # the key names a secret or personal data: store its digest only

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0 or not 0 < len(self.scope) <= 32:
            raise ValueError("a limit needs limit >= 1, window > 0 and a scope of 1-32 chars")

    def stored(self, key: str) -> str:
        """The key as the table holds it."""
        clear = (
            not self.hashed
            and len(key) <= MAX_CLEAR_KEY
            and key.isascii()
            and key.isprintable()
            and not key.startswith(_DIGEST)
        )
        if clear:
            return key
        raw = f"{self.scope}\n{key}".encode("utf-8", "surrogatepass")
        return _DIGEST + hashlib.sha256(raw).hexdigest()


Hit = tuple[Rule, str]


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SharedLimits:
    """The limits of every process on ``db``; ``clock`` is wall-clock seconds (all the
    processes' clocks must agree, as for leases)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        prune_every: float = 60.0,
    ) -> None:
        self.db = db
        self._clock = clock
        self._prune_every = prune_every
        self._next_prune = 0.0

    def hit(self, *hits: Hit) -> list[Decision]:
        """Count one hit on each ``(rule, key)`` in one transaction; their decisions, in order."""
        if not hits:
            return []
        now = self._clock()
        rows = {(rule.scope, rule.stored(key)): _moment(now + rule.window) for rule, key in hits}
        with self.db.write() as session:
            returned = {
                (scope, key): (end, count)
                for scope, key, end, count in session.execute(self._upsert(rows, _moment(now)))
            }
            if now >= self._next_prune:
                self._next_prune = now + self._prune_every
                session.execute(delete(LimitWindow).where(LimitWindow.window_end <= _moment(now)))
        decisions = []
        for rule, key in hits:
            end, count = returned[(rule.scope, rule.stored(key))]
            decisions.append(
                Decision(
                    allowed=count <= rule.limit,
                    limit=rule.limit,
                    remaining=max(0, rule.limit - count),
                    reset_after=max(0.0, end.timestamp() - now),
                )
            )
        return decisions

    def _upsert(
        self, rows: dict[tuple[str, str], datetime], now: datetime
    ) -> ReturningInsert[str, str, datetime, int]:
        stmt = (sqlite_insert if self.db.is_sqlite else pg_insert)(LimitWindow).values(
            [
                {"scope": scope, "key": key, "window_end": end, "hits": 1}
                for (scope, key), end in sorted(rows.items())
            ]
        )
        ended = LimitWindow.window_end <= literal(now, UTCDateTime())
        return stmt.on_conflict_do_update(
            index_elements=[LimitWindow.scope, LimitWindow.key],
            set_={
                "hits": case((ended, 1), else_=LimitWindow.hits + 1),
                "window_end": case((ended, stmt.excluded.window_end), else_=LimitWindow.window_end),
            },
        ).returning(LimitWindow.scope, LimitWindow.key, LimitWindow.window_end, LimitWindow.hits)

    def at_limit(self, session: Session, *keys: Hit) -> list[tuple[Hit, float]]:
        """The keys whose next hit would be refused, each with the seconds until its window
        ends; read in the caller's ``session``, writing nothing."""
        if not keys:
            return []
        now = self._clock()
        wanted = {(rule.scope, rule.stored(key)): (rule, key) for rule, key in keys}
        found = session.execute(
            select(
                LimitWindow.scope, LimitWindow.key, LimitWindow.window_end, LimitWindow.hits
            ).where(
                or_(*(and_(LimitWindow.scope == s, LimitWindow.key == k) for s, k in wanted)),
                LimitWindow.window_end > _moment(now),
            )
        )
        limited = []
        for scope, key, end, count in found:
            rule, given = wanted[(scope, key)]
            if count >= rule.limit:
                limited.append(((rule, given), end.timestamp() - now))
        return limited
