"""Connector leases: each configured connector's binds are held by one dispatcher at a time.

A row per connector in ``connector_leases`` names its holder and how long the hold lasts.
A dispatcher takes and renews its leases on every refresh (every 2 s) for
``connector_lease_seconds``, and a ``Heartbeat`` renews the ones it holds every third of the
lease from a task and a thread of its own, so that a busy dispatcher (a long SMPP window, a
slow HTTP upstream, a refresh stuck starting a connector) keeps them. Another dispatcher
takes a lease over once it has expired (its holder died or lost the database) and releases
them on a graceful stop so another takes over at once.

Acquiring is one atomic ``UPDATE ... WHERE owner = me OR lease_until < now RETURNING``
after an ``INSERT ... ON CONFLICT DO NOTHING`` of the missing rows: on PostgreSQL two
dispatchers racing for the same expired row serialise on its row lock and the second sees
the first one's fresh ``lease_until``, so it gets nothing. Times are each process's clock:
the hosts' clocks must agree to well within the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from smsgate.dispatch.models import ConnectorLease

log = structlog.get_logger(__name__)
_table: Table = ConnectorLease.__table__  # type: ignore[assignment]
_EXPIRED = datetime(2000, 1, 1, tzinfo=UTC)


def acquire(
    session: Session, owner: str, names: Collection[str], now: datetime, lease: timedelta
) -> set[str]:
    """Take or renew the leases on ``names``; returns those this owner now holds."""
    if not names:
        return set()
    rows = [{"connector": n, "owner": "", "lease_until": _EXPIRED} for n in names]
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(_table).on_conflict_do_nothing(index_elements=["connector"])
    else:
        stmt = sqlite.insert(_table).on_conflict_do_nothing(index_elements=["connector"])
    session.execute(stmt, rows)
    held = session.scalars(
        update(ConnectorLease)
        .where(
            ConnectorLease.connector.in_(list(names)),
            or_(ConnectorLease.owner == owner, ConnectorLease.lease_until < now),
        )
        .values(owner=owner, lease_until=now + lease)
        .returning(ConnectorLease.connector),
        execution_options={"synchronize_session": False},
    )
    return set(held)


def renew(
    session: Session, owner: str, names: Collection[str], now: datetime, lease: timedelta
) -> set[str]:
    """Extend the leases this owner still holds among ``names``; returns those. One taken
    over meanwhile (it had expired) is not returned: the owner must stop using it."""
    if not names:
        return set()
    kept = session.scalars(
        update(ConnectorLease)
        .where(ConnectorLease.connector.in_(list(names)), ConnectorLease.owner == owner)
        .values(lease_until=now + lease)
        .returning(ConnectorLease.connector),
        execution_options={"synchronize_session": False},
    )
    return set(kept)


def release(session: Session, owner: str, names: Collection[str] | None = None) -> None:
    """Give up this owner's leases (all of them, or only ``names``)."""
    stmt = delete(ConnectorLease).where(ConnectorLease.owner == owner)
    if names is not None:
        if not names:
            return
        stmt = stmt.where(ConnectorLease.connector.in_(list(names)))
    session.execute(stmt, execution_options={"synchronize_session": False})


def holders(session: Session, now: datetime) -> dict[str, str]:
    """Each connector with a live lease and its holder."""
    return dict(
        session.execute(
            select(ConnectorLease.connector, ConnectorLease.owner).where(
                ConnectorLease.lease_until >= now
            )
        ).all()
    )


class Heartbeat:
    """Runs ``beat`` (blocking database work) every ``interval`` seconds, on a thread of its
    own, from a task of its own: it goes on while the dispatcher's loops, its database thread
    and the shared thread pools are busy. A failed beat is logged and tried again at the
    next tick; the lease it meant to renew may lapse meanwhile, which the fences on
    ``lease_owner`` make safe."""

    def __init__(self, name: str, interval: float, beat: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self._beat = beat
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._task is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"heartbeat-{self.name}")
            self._task = asyncio.get_running_loop().create_task(self._run(self._thread))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thread is not None:
            # a beat under way finishes on its own; its writes are fenced like any other
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None

    async def _run(self, thread: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await loop.run_in_executor(thread, self._beat)
            except Exception:
                log.exception("lease heartbeat failed", heartbeat=self.name)
