"""The live connectors of one dispatcher and the route table, kept in step with the database.

Connector configurations and routes are read again every few seconds: a connector added
with the CLI starts, a removed one stops, a changed route applies, with no restart.

Each configured connector runs in one dispatcher at a time: on every refresh the pool takes
or renews the connector's lease (``dispatch/leases.py``), starts only the connectors whose
lease it holds and stops one whose lease it lost. Between refreshes, a heartbeat renews the
leases held every third of the lease, from its own task and thread, so that a dispatcher
busy with a long submit or a slow refresh keeps its connectors. The built-in ``simulator``
and connectors handed in by the caller are in-process and run in every dispatcher without a
lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import select

from smsgate.accounts.models import Account
from smsgate.config import Settings
from smsgate.connectors.base import Connector, InboundSink, ReceiptSink
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.registry import build, default_simulator
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.dispatch.outbox import unconfirmed_parts
from smsgate.kit.time import utcnow
from smsgate.pricing.models import ConnectorCostPlan
from smsgate.pricing.service import rate_books
from smsgate.routing.service import DEFAULT_CONNECTOR, RouteTable, RoutingFacts

log = structlog.get_logger(__name__)


def is_healthy(connector: Connector) -> bool:
    """A connector without a ``healthy`` attribute (the simulator) is always healthy."""
    return bool(getattr(connector, "healthy", True))


class ConnectorPool:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        fixed: Sequence[Connector] = (),
        owner: str = "",
    ) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner or f"pool:{id(self):x}"
        self._lease = timedelta(seconds=settings.connector_lease_seconds)
        # connector -> when our lease on it ends (as granted); replaced whole, never mutated,
        # under the lock: the refresh (dispatcher's database thread) and the heartbeat (a
        # thread of its own) both replace it
        self._held: dict[str, datetime] = {}
        self._held_lock = threading.Lock()
        self.heartbeat = leases.Heartbeat(
            "connector leases", settings.connector_lease_seconds / 3, self.renew_held
        )
        # configured connectors whose lease another dispatcher holds now
        self.elsewhere: frozenset[str] = frozenset()
        self.live: dict[str, Connector] = {}
        self._unstarted = list(fixed)  # handed in by the caller: started once, never reloaded
        self._fixed = {c.name for c in fixed}
        self._versions: dict[str, object] = {}
        self.routes = RouteTable()
        self._plans: dict[int, int | None] = {}
        self._cost_plans: dict[str, int] = {}
        self._db_key = db.engine.url.render_as_string(hide_password=True)

    def snapshot(
        self,
    ) -> tuple[list[ConnectorConfig], RouteTable, dict[str, int], dict[int, int | None]]:
        """Read configuration (runs on the dispatcher's database thread)."""
        with self.db.read() as session:
            configs = list(session.scalars(select(ConnectorConfig).where(ConnectorConfig.enabled)))
            routes = RouteTable.load(session)
            costs = dict(
                session.execute(
                    select(ConnectorCostPlan.connector, ConnectorCostPlan.plan_id)
                ).all()
            )
            plans = (
                dict(session.execute(select(Account.id, Account.price_plan_id)).all())
                if routes.uses_plans
                else {}
            )
            for plan_id in set(costs.values()):
                rate_books.get(session, [plan_id])
        leased = [c.name for c in configs if c.name not in self._fixed]
        now = utcnow()
        with self._held_lock, self.db.write() as session:
            # a connector removed or disabled since: give its lease up too
            leases.release(session, self.owner, [n for n in self._held if n not in leased])
            held = leases.acquire(session, self.owner, leased, now, self._lease)
            self._held = dict.fromkeys(held, now + self._lease)
        self.elsewhere = frozenset(n for n in leased if n not in held)
        configs = [c for c in configs if c.name in self._fixed or c.name in held]
        return configs, routes, costs, plans

    def renew_held(self) -> None:
        """The heartbeat: extend the leases held; drop at once any that was taken over."""
        with self._held_lock:
            held = self._held
            if not held:
                return
            now = utcnow()
            with self.db.write() as session:
                kept = leases.renew(session, self.owner, list(held), now, self._lease)
            self._held = {n: now + self._lease for n in held if n in kept}
        for name in set(held) - kept:
            log.warning("connector lease lost to another dispatcher", connector=name)

    def release_leases(self) -> None:
        """Give up every lease at once (on a graceful stop; runs on the database thread)."""
        with self._held_lock:
            self._held = {}
            with self.db.write() as session:
                leases.release(session, self.owner)

    def holds(self, name: str) -> bool:
        """May this dispatcher use the connector now: in-process, or under a live lease."""
        if name == DEFAULT_CONNECTOR or name in self._fixed:
            return True
        until = self._held.get(name)
        return until is not None and until > utcnow()

    def held_elsewhere(self, facts: RoutingFacts) -> bool:
        """Does the message's route name a connector that another dispatcher holds?"""
        if not self.elsewhere:
            return False
        route = self.routes.route_for(facts)
        return route is not None and any(t.connector in self.elsewhere for t in route.targets)

    async def apply(
        self,
        configs: list[ConnectorConfig],
        routes: RouteTable,
        costs: dict[str, int],
        plans: dict[int, int | None],
        sink: ReceiptSink,
        inbound: InboundSink | None = None,
    ) -> list[Connector]:
        """Start what is new or changed, stop what is gone; returns the started ones.

        A connector that can receive inbound messages (``set_inbound``) gets ``inbound``
        before it starts."""
        self.heartbeat.start()
        self.routes, self._cost_plans, self._plans = routes, costs, plans
        wanted = {c.name: c for c in configs}
        if DEFAULT_CONNECTOR not in self.live and DEFAULT_CONNECTOR not in self._fixed:
            simulator = default_simulator(self.settings)
            wanted_default: list[Connector] = [simulator]
        else:
            wanted_default = []
        started: list[Connector] = self._unstarted
        self._unstarted = []
        for name in [n for n in self.live if n not in self._fixed and n != DEFAULT_CONNECTOR]:
            if name not in wanted or self._versions.get(name) != wanted[name].updated_at:
                await self._stop(name)
        for name, config in wanted.items():
            if name in self.live:
                continue
            try:
                connector = build(config, self.settings)
            except Exception:
                log.exception("cannot build connector", connector=name)
                continue
            self._versions[name] = config.updated_at
            if hasattr(connector, "pending"):  # HTTP providers that poll for status
                connector.pending = self._pending_source(name)
            started.append(connector)
        for connector in wanted_default + started:
            set_inbound = getattr(connector, "set_inbound", None)
            if inbound is not None and set_inbound is not None:
                set_inbound(inbound)
            await connector.start(sink)
            self.live[connector.name] = connector
        return wanted_default + started

    def _pending_source(self, name: str) -> Callable[[], Awaitable[list[str]]]:
        async def pending() -> list[str]:
            def read() -> list[str]:
                with self.db.read() as session:
                    return [uid for uid, _ in unconfirmed_parts(session, name)]

            return await asyncio.to_thread(read)

        return pending

    async def _stop(self, name: str) -> None:
        connector = self.live.pop(name)
        with contextlib.suppress(Exception):
            await connector.stop()
        log.info("connector stopped", connector=name)

    async def stop_all(self) -> None:
        await self.heartbeat.stop()
        for name in list(self.live):
            await self._stop(name)

    def healthy(self, name: str) -> bool:
        connector = self.live.get(name)
        return connector is not None and is_healthy(connector) and self.holds(name)

    def cost(self, name: str, facts: RoutingFacts) -> Decimal | None:
        plan_id = self._cost_plans.get(name)
        book = rate_books.peek(self._db_key, plan_id) if plan_id is not None else None
        return book.rate(facts.mcc, facts.mnc) if book else None

    def plan_of(self, account_id: int) -> int | None:
        return self._plans.get(account_id)

    def candidates(
        self, facts: RoutingFacts, healthy: Callable[[str], bool] | None = None
    ) -> list[str]:
        return self.routes.candidates(facts, healthy or self.healthy, self.cost)
