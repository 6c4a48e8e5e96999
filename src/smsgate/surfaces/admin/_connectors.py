"""Connectors (with their health) and the route table: list, add, remove, each change audited.

Live health exists only where the dispatcher runs the connector: in this process, unless it
was started with ``serve --no-dispatch`` (then ``live`` is false and ``health`` null). The
activity of the last minute comes from the database and is the same from every process.
A connector's secret is stored encrypted and never returned, nor written to the audit log;
an HTTP connector's callback URL (with its secret token) is returned once, by the add.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.audit import service as audit
from smsgate.connectors import registry
from smsgate.dispatch.health import Activity, live_health, recent_activity, window_use
from smsgate.routing import admin as route_admin
from smsgate.routing import service as routing
from smsgate.routing.models import Route, Strategy
from smsgate.surfaces.admin._common import Operator, who
from smsgate.surfaces.deps import MAX_ID, PathId, runtime

router = APIRouter(tags=["admin: connectors and routes"])

Name = Annotated[str, Path(min_length=1, max_length=64, description="Connector name")]


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    kind: str = Field(description="simulator, smpp, or an HTTP provider's kind")
    options: dict[str, Any] = Field(default_factory=dict, description="The kind's settings")
    secret: str = Field("", description="Password or API key: stored, never returned")


class ConnectorOut(BaseModel):
    name: str
    kind: str
    options: dict[str, Any]
    enabled: bool
    has_secret: bool
    live: bool = Field(description="Running in this process's dispatcher")
    healthy: bool | None = None
    health: dict[str, Any] | None = Field(
        None, description="What the running connector reports (binds, window, last error...)"
    )
    window_use: float | None = Field(None, description="In-flight share of the window, 0..1")
    activity: dict[str, Any] = Field(description="Submitted, rejected, throughput, error rate")
    callback_url: str | None = Field(
        None,
        description="HTTP connectors, in the answer to the add only: the URL (or its path, "
        "without SMSGATE_PUBLIC_URL) for the provider's callbacks and inbound messages",
    )


class ConnectorsOut(BaseModel):
    connectors: list[ConnectorOut]


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connectors: str = Field(min_length=1, max_length=500, description="'a' or 'a:3,b:1'")
    priority: int = Field(100, ge=0, le=2**31 - 1, description="Lower is tried first")
    strategy: Strategy = Strategy.PRIORITY
    account_id: int | None = Field(None, ge=1, le=MAX_ID)
    plan_id: int | None = Field(None, ge=1, le=MAX_ID)
    country: str | None = Field(None, min_length=2, max_length=2)
    mcc: str | None = Field(None, pattern=r"^\d{3}$")
    mnc: str | None = Field(None, pattern=r"^\d{2,3}$")
    prefix: str | None = Field(None, pattern=r"^\d{1,15}$")
    sender: str | None = Field(None, max_length=20)
    requested_type: str | None = Field(None, max_length=20)


class RouteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    connectors: str
    priority: int
    strategy: Strategy
    account_id: int | None
    plan_id: int | None
    country: str | None
    mcc: str | None
    mnc: str | None
    prefix: str | None
    sender: str | None
    requested_type: str | None


class RoutesOut(BaseModel):
    routes: list[RouteOut]


def _activity_empty() -> dict[str, Any]:
    return Activity().as_dict()


@router.get(
    "/v1/admin/connectors",
    response_model=ConnectorsOut,
    summary="Connectors with their live health and last minute's activity",
)
async def list_connectors(request: Request, principal: Operator) -> ConnectorsOut:
    rt = runtime(request)
    # Read the live connectors on the event loop, where the dispatcher changes them.
    pool = rt.dispatcher.pool if rt.dispatcher is not None else None
    live = {name: live_health(c) for name, c in (pool.live.items() if pool else ())}

    def read() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        with rt.db.read() as session:
            views = [registry.public_view(c) for c in registry.list_connectors(session)]
            activity = {k: v.as_dict() for k, v in recent_activity(session).items()}
        return views, activity

    views, activity = await run_in_threadpool(read)
    known = {v["name"] for v in views}
    for name in sorted(set(live) - known):  # the built-in simulator, fixed connectors
        views.append(
            {"name": name, "kind": "built-in", "options": {}, "enabled": True, "has_secret": False}
        )
    out = []
    for view in views:
        health = live.get(view["name"])
        out.append(
            ConnectorOut(
                **view,
                live=health is not None,
                healthy=health["healthy"] if health is not None else None,
                health=health,
                window_use=window_use(health) if health is not None else None,
                activity=activity.get(view["name"]) or _activity_empty(),
            )
        )
    return ConnectorsOut(connectors=out)


@router.post(
    "/v1/admin/connectors",
    response_model=ConnectorOut,
    status_code=201,
    summary="Add a connector; running dispatchers start it within seconds",
)
def add_connector(body: ConnectorIn, request: Request, principal: Operator) -> ConnectorOut:
    by = who(request, principal)
    settings = runtime(request).settings
    with runtime(request).db.write() as session:
        config = registry.add_connector(
            session, body.name, body.kind, body.options, body.secret, settings=settings
        )
        audit.record(
            session,
            by["actor"],
            "connector.add",
            f"connector:{body.name}",
            address=by["address"],
            kind=body.kind,
            options=body.options,
            has_secret=bool(body.secret),
        )
        view = registry.public_view(config)
        callback_url = registry.new_callback_url(config, settings)
    return ConnectorOut(**view, live=False, activity=_activity_empty(), callback_url=callback_url)


@router.delete(
    "/v1/admin/connectors/{name}",
    status_code=204,
    response_class=Response,
    summary="Remove a connector; running dispatchers stop it within seconds",
)
def remove_connector(name: Name, request: Request, principal: Operator) -> Response:
    by = who(request, principal)
    with runtime(request).db.write() as session:
        registry.remove_connector(session, name)
        audit.record(
            session, by["actor"], "connector.remove", f"connector:{name}", address=by["address"]
        )
    return Response(status_code=204)


def _route_out(route: Route) -> RouteOut:
    return RouteOut.model_validate(route)


@router.get("/v1/admin/routes", response_model=RoutesOut, summary="The route table, in order")
def list_routes(request: Request, principal: Operator) -> RoutesOut:
    with runtime(request).db.read() as session:
        return RoutesOut(routes=[_route_out(r) for r in routing.list_routes(session)])


@router.post(
    "/v1/admin/routes",
    response_model=RouteOut,
    status_code=201,
    summary="Add a route; it applies within seconds",
)
def add_route(body: RouteIn, request: Request, principal: Operator) -> RouteOut:
    by = who(request, principal)
    conditions = body.model_dump(exclude={"connectors", "priority", "strategy"})
    with runtime(request).db.write() as session:
        route = route_admin.add_route(
            session,
            body.connectors,
            priority=body.priority,
            strategy=body.strategy,
            **by,
            **conditions,
        )
        return _route_out(route)


@router.delete(
    "/v1/admin/routes/{route_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a route",
)
def remove_route(route_id: PathId, request: Request, principal: Operator) -> Response:
    by = who(request, principal)
    with runtime(request).db.write() as session:
        route_admin.remove_route(session, route_id, **by)
    return Response(status_code=204)
