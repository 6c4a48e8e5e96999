"""The route table: an ordered list of rules that pick a connector for each message.

A rule matches when every condition it sets (account, plan, country, MCC, MNC, number
prefix, sender, requested type) equals the message's; unset conditions match anything.
The first matching rule (lowest priority number) names connectors and a strategy. With no
rules at all every message goes to the built-in simulator; with rules but none matching, a
message is rejected before it is charged.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsgate.errors import InvalidRequest, NotFound
from smsgate.routing.models import Route, Strategy

DEFAULT_CONNECTOR = "simulator"


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    account_id: int
    plan_id: int | None
    msisdn: str
    country: str
    mcc: str | None
    mnc: str | None
    sender: str
    requested_type: str


@dataclass(frozen=True, slots=True)
class Target:
    connector: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    id: int
    priority: int
    strategy: Strategy
    targets: tuple[Target, ...]
    account_id: int | None
    plan_id: int | None
    country: str | None
    mcc: str | None
    mnc: str | None
    prefix: str | None
    sender: str | None
    requested_type: str | None

    def matches(self, f: RoutingFacts) -> bool:
        return (
            (self.account_id is None or self.account_id == f.account_id)
            and (self.plan_id is None or self.plan_id == f.plan_id)
            and (self.country is None or self.country == f.country)
            and (self.mcc is None or self.mcc == f.mcc)
            and (self.mnc is None or self.mnc == f.mnc)
            and (self.prefix is None or f.msisdn.startswith(self.prefix))
            and (self.sender is None or self.sender == f.sender)
            and (self.requested_type is None or self.requested_type == f.requested_type)
        )


def parse_targets(text: str) -> tuple[Target, ...]:
    """'smpp-a:3,http-b' -> targets with weights (default 1)."""
    targets = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = item.partition(":")
        if weight and not (weight.isdigit() and int(weight) > 0):
            raise InvalidRequest(
                f"weight {weight!r} of connector {name!r} is not a positive integer"
            )
        targets.append(Target(name.strip(), int(weight) if weight else 1))
    if not targets:
        raise InvalidRequest("a route needs at least one connector", field="connectors")
    return tuple(targets)


def _compile(route: Route) -> CompiledRoute:
    return CompiledRoute(
        route.id,
        route.priority,
        Strategy(route.strategy),
        parse_targets(route.connectors),
        route.account_id,
        route.plan_id,
        route.country,
        route.mcc,
        route.mnc,
        route.prefix,
        route.sender,
        route.requested_type,
    )


Healthy = Callable[[str], bool]
Cost = Callable[[str, RoutingFacts], Decimal | None]


class RouteTable:
    """The compiled rules, reloaded from the database by whoever owns the table."""

    def __init__(self, routes: Sequence[CompiledRoute] = ()) -> None:
        self.routes = sorted(routes, key=lambda r: (r.priority, r.id))
        self._turn = itertools.count()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, session: Session) -> RouteTable:
        return cls([_compile(r) for r in session.scalars(select(Route))])

    @property
    def uses_plans(self) -> bool:
        return any(r.plan_id is not None for r in self.routes)

    def route_for(self, facts: RoutingFacts) -> CompiledRoute | None:
        return next((r for r in self.routes if r.matches(facts)), None)

    def routable(self, facts: RoutingFacts) -> bool:
        return not self.routes or self.route_for(facts) is not None

    def candidates(self, facts: RoutingFacts, healthy: Healthy, cost: Cost) -> list[str]:
        """Healthy connectors for the message, best first; [] when none can take it now."""
        if not self.routes:
            return [DEFAULT_CONNECTOR] if healthy(DEFAULT_CONNECTOR) else []
        route = self.route_for(facts)
        if route is None:
            return []
        alive = [t for t in route.targets if healthy(t.connector)]
        if route.strategy is Strategy.LEAST_COST:
            priced = [(cost(t.connector, facts), i, t) for i, t in enumerate(alive)]
            priced.sort(key=lambda x: (x[0] is None, x[0] or Decimal(0), x[1]))
            return [t.connector for _, _, t in priced]
        if route.strategy is Strategy.WEIGHTED and alive:
            wheel = [t for t in alive for _ in range(t.weight)]
            with self._lock:
                start = next(self._turn) % len(wheel)
            first = wheel[start]
            return [first.connector] + [t.connector for t in alive if t is not first]
        return [t.connector for t in alive]


def add_route(
    session: Session,
    connectors: str,
    *,
    priority: int = 100,
    strategy: Strategy = Strategy.PRIORITY,
    **conditions: object,
) -> Route:
    parse_targets(connectors)
    allowed = {
        "account_id",
        "plan_id",
        "country",
        "mcc",
        "mnc",
        "prefix",
        "sender",
        "requested_type",
    }
    unknown = set(conditions) - allowed
    if unknown:
        raise InvalidRequest(f"unknown route condition(s): {', '.join(sorted(unknown))}")
    route = Route(
        connectors=connectors,
        priority=priority,
        strategy=strategy,
        **{k: v for k, v in conditions.items() if v is not None},
    )
    session.add(route)
    session.flush()
    return route


def list_routes(session: Session) -> list[Route]:
    return list(session.scalars(select(Route).order_by(Route.priority, Route.id)))


def remove_route(session: Session, route_id: int) -> None:
    if not session.execute(delete(Route).where(Route.id == route_id)).rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no route with id {route_id}", code="route_not_found")
