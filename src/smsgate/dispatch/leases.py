"""Connector leases: each configured connector's binds are held by one dispatcher at a time.

A row per connector in ``connector_leases`` names its holder and how long the hold lasts.
A dispatcher renews its leases on every refresh (every 2 s) for ``connector_lease_seconds``;
another dispatcher takes a lease over once it has expired (its holder died or lost the
database) and releases them on a graceful stop so another takes over at once.

Acquiring is one atomic ``UPDATE ... WHERE owner = me OR lease_until < now RETURNING``
after an ``INSERT ... ON CONFLICT DO NOTHING`` of the missing rows: on PostgreSQL two
dispatchers racing for the same expired row serialise on its row lock and the second sees
the first one's fresh ``lease_until``, so it gets nothing. Times are each process's clock:
the hosts' clocks must agree to well within the lease.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from smsgate.dispatch.models import ConnectorLease

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
