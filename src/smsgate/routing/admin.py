"""Operator actions on the route table, audited: what the admin API and the dashboard call."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from smsgate.audit import service as audit
from smsgate.routing import service as routing
from smsgate.routing.models import Route, Strategy


def add_route(
    session: Session,
    connectors: str,
    *,
    priority: int,
    strategy: Strategy,
    actor: str,
    address: str = "",
    **conditions: Any,
) -> Route:
    route = routing.add_route(
        session, connectors, priority=priority, strategy=strategy, **conditions
    )
    audit.record(
        session,
        actor,
        "route.add",
        f"route:{route.id}",
        address=address,
        connectors=connectors,
        priority=priority,
        strategy=str(strategy),
        **{k: v for k, v in conditions.items() if v is not None},
    )
    return route


def remove_route(session: Session, route_id: int, *, actor: str, address: str = "") -> None:
    routing.remove_route(session, route_id)
    audit.record(session, actor, "route.remove", f"route:{route_id}", address=address)
