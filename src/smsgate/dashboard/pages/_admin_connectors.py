"""Connectors (state, throughput, errors) and the route table (add, remove).

The same sources as ``GET /v1/admin/connectors``: the configured connectors from the
registry, live health from this process's dispatcher (none under ``serve --no-dispatch``)
and the last minute's activity from the messages table. Route changes are audited as the
admin API audits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.connectors import registry
from smsgate.dashboard.pages._admin_common import who
from smsgate.dashboard.web import Operator, page_router, render, runtime, see_other
from smsgate.dispatch.health import Activity, live_health, recent_activity, window_use
from smsgate.errors import InvalidRequest
from smsgate.pricing import admin as pricing_admin
from smsgate.routing import admin as route_admin
from smsgate.routing import service as routing
from smsgate.routing.models import Strategy
from smsgate.runtime import Runtime
from smsgate.surfaces.admin._connectors import RouteIn
from smsgate.surfaces.deps import PathId

router = page_router()


@dataclass(frozen=True, slots=True)
class ConnectorState:
    name: str
    kind: str
    options: dict[str, Any]
    enabled: bool
    live: bool  # running in this process's dispatcher
    healthy: bool | None
    health: dict[str, Any]
    window_use: float | None
    activity: Activity


async def connector_states(rt: Runtime) -> list[ConnectorState]:
    # The live connectors are read on the event loop, where the dispatcher changes them.
    pool = rt.dispatcher.pool if rt.dispatcher is not None else None
    live = {name: live_health(c) for name, c in (pool.live.items() if pool else ())}

    def read() -> tuple[list[dict[str, Any]], dict[str, Activity]]:
        with rt.db.read() as session:
            views = [registry.public_view(c) for c in registry.list_connectors(session)]
            return views, recent_activity(session)

    views, activity = await run_in_threadpool(read)
    known = {v["name"] for v in views}
    views += [
        {"name": name, "kind": "built-in", "options": {}, "enabled": True}
        for name in sorted(set(live) - known)
    ]
    return [
        ConnectorState(
            v["name"],
            v["kind"],
            v["options"],
            v["enabled"],
            v["name"] in live,
            live[v["name"]]["healthy"] if v["name"] in live else None,
            live.get(v["name"], {}),
            window_use(live[v["name"]]) if v["name"] in live else None,
            activity.get(v["name"]) or Activity(),
        )
        for v in views
    ]


@router.get("/admin/connectors")
async def connectors(request: Request, viewer: Operator, done: str = "") -> Response:
    rt = runtime(request)
    states = await connector_states(rt)

    def read() -> dict[str, Any]:
        with rt.db.read() as session:
            plans, _ = pricing_admin.list_plans(session, limit=500)
            return {
                "routes": routing.list_routes(session),
                "plans": {s.plan.id: s.plan.name for s in plans},
            }

    context = await run_in_threadpool(read)
    context |= {
        "connectors": states,
        "strategies": [s.value for s in Strategy],
        "done": done,
        "dispatching": rt.dispatcher is not None,
    }
    return render(request, "admin/connectors.html", context)


def _route_in(form: dict[str, str]) -> RouteIn:
    """The admin API's own validation of a route, for the form's fields (blank is unset)."""
    given = {k: v.strip() for k, v in form.items() if v.strip()}
    try:
        return RouteIn.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}", field=where or None) from None


@router.post("/admin/routes")
def add_route(
    request: Request,
    viewer: Operator,
    connectors: Annotated[str, Form(max_length=500)],
    priority: Annotated[str, Form(max_length=12)] = "100",
    strategy: Annotated[str, Form(max_length=20)] = "priority",
    account_id: Annotated[str, Form(max_length=20)] = "",
    plan_id: Annotated[str, Form(max_length=20)] = "",
    country: Annotated[str, Form(max_length=10)] = "",
    mcc: Annotated[str, Form(max_length=10)] = "",
    mnc: Annotated[str, Form(max_length=10)] = "",
    prefix: Annotated[str, Form(max_length=20)] = "",
    sender: Annotated[str, Form(max_length=40)] = "",
    requested_type: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    fields = {
        "connectors": connectors, "priority": priority, "strategy": strategy,
        "account_id": account_id, "plan_id": plan_id, "country": country.upper(), "mcc": mcc,
        "mnc": mnc, "prefix": prefix, "sender": sender, "requested_type": requested_type,
    }  # fmt: skip
    body = _route_in(fields)
    by = who(request, viewer)
    conditions = body.model_dump(exclude={"connectors", "priority", "strategy"})
    with runtime(request).db.write() as session:
        route_admin.add_route(
            session,
            body.connectors,
            priority=body.priority,
            strategy=body.strategy,
            **by,
            **conditions,
        )
    return see_other("/admin/connectors?done=route_added#routes")


@router.post("/admin/routes/{route_id}/remove")
def remove_route(request: Request, viewer: Operator, route_id: PathId) -> Response:
    by = who(request, viewer)
    with runtime(request).db.write() as session:
        route_admin.remove_route(session, route_id, **by)
    return see_other("/admin/connectors?done=route_removed#routes")
