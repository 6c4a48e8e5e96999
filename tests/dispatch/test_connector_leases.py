"""Each configured connector runs in one dispatcher at a time, through its lease row."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update

from smsgate.config import Settings
from smsgate.connectors.base import Receipt
from smsgate.connectors.registry import add_connector, remove_connector
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.dispatch.models import ConnectorLease
from smsgate.dispatch.pool import ConnectorPool
from smsgate.kit.time import utcnow
from smsgate.routing.service import DEFAULT_CONNECTOR


async def _sink(receipts: Sequence[Receipt]) -> None:
    return None


async def _refresh(pool: ConnectorPool) -> None:
    configs, routes, costs, plans = await asyncio.to_thread(pool.snapshot)
    await pool.apply(configs, routes, costs, plans, _sink)


def _holder(db: Database, name: str) -> str | None:
    with db.read() as s:
        return s.scalar(select(ConnectorLease.owner).where(ConnectorLease.connector == name))


def test_one_pool_holds_a_connector_and_another_takes_it_over(
    db: Database, settings: Settings
) -> None:
    with db.write() as s:
        add_connector(s, "shared", "simulator", {"delay": 0.05})
        add_connector(s, "dropped", "simulator", {"delay": 0.05})

    async def scenario() -> None:
        a = ConnectorPool(db, settings, owner="worker-a")
        b = ConnectorPool(db, settings, owner="worker-b")
        await _refresh(a)
        await _refresh(b)
        # a came first and holds both; b runs only the in-process simulator
        assert set(a.live) == {"shared", "dropped", DEFAULT_CONNECTOR}
        assert set(b.live) == {DEFAULT_CONNECTOR}
        assert a.healthy("shared") and not b.healthy("shared")
        assert b.elsewhere == {"shared", "dropped"}
        assert _holder(db, "shared") == "worker-a"

        # renewing keeps it: b's refresh changes nothing
        await _refresh(a)
        await _refresh(b)
        assert "shared" in a.live and "shared" not in b.live

        # a connector removed from the configuration gives its lease up
        with db.write() as s:
            remove_connector(s, "dropped")
        await _refresh(a)
        assert "dropped" not in a.live
        assert _holder(db, "dropped") is None

        # a's lease expires (a died or lost the database): b takes over at its next refresh,
        # and a stops the connector at its own next refresh
        with db.write() as s:
            s.execute(
                update(ConnectorLease)
                .where(ConnectorLease.connector == "shared")
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        await _refresh(b)
        assert "shared" in b.live and b.healthy("shared")
        assert _holder(db, "shared") == "worker-b"
        await _refresh(a)
        assert "shared" not in a.live and a.elsewhere == {"shared"}

        # a graceful stop releases the lease: a takes it at once
        await b.stop_all()
        await asyncio.to_thread(b.release_leases)
        assert _holder(db, "shared") is None
        await _refresh(a)
        assert "shared" in a.live
        assert _holder(db, "shared") == "worker-a"
        await a.stop_all()
        await asyncio.to_thread(a.release_leases)

    asyncio.run(scenario())


def test_acquire_is_exclusive(db: Database) -> None:
    now = utcnow()
    lease = timedelta(seconds=10)
    with db.write() as s:
        assert leases.acquire(s, "a", ["x", "y"], now, lease) == {"x", "y"}
    with db.write() as s:
        assert leases.acquire(s, "b", ["x", "y", "z"], now, lease) == {"z"}
    with db.write() as s:
        leases.release(s, "a", ["x"])
    with db.write() as s:
        assert leases.acquire(s, "b", ["x", "y", "z"], now, lease) == {"x", "z"}
        assert leases.holders(s, now) == {"x": "b", "y": "a", "z": "b"}
    with db.write() as s:
        assert leases.acquire(s, "b", ["y"], now + lease + timedelta(seconds=1), lease) == {"y"}
