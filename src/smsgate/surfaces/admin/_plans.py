"""Price plans, their rate cards (CSV in and out), and the cost plans of connectors."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.errors import SmsgateError
from smsgate.pricing import admin
from smsgate.pricing.service import RateFileError
from smsgate.surfaces.admin._common import Limit, Offset, Operator, who
from smsgate.surfaces.admin.schemas import (
    CostPlanIn,
    CostPlanOut,
    CostPlansOut,
    PlanIn,
    PlanOut,
    PlanPatch,
    PlansPage,
)
from smsgate.surfaces.deps import read_body, runtime
from smsgate.surfaces.rendering import problem_responses

router = APIRouter(tags=["admin: price plans"])
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


class UnsupportedMediaType(SmsgateError):
    status = 415
    code = "unsupported_media_type"


def plan_out(s: admin.PlanSummary) -> PlanOut:
    return PlanOut(
        name=s.plan.name,
        version=s.plan.version,
        refund_undeliverable=s.plan.refund_undeliverable,
        rates=s.rates,
        accounts=s.accounts,
        created_at=s.plan.created_at,
        updated_at=s.plan.updated_at,
    )


@router.get("/v1/admin/plans", response_model=PlansPage, summary="Price plans, by name")
def list_plans(
    request: Request, principal: Operator, limit: Limit = 50, offset: Offset = 0
) -> PlansPage:
    with runtime(request).db.read() as session:
        rows, total = admin.list_plans(session, limit=limit, offset=offset)
    return PlansPage(plans=[plan_out(s) for s in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/v1/admin/plans", response_model=PlanOut, status_code=201, summary="Create an empty plan"
)
def create_plan(body: PlanIn, request: Request, principal: Operator) -> PlanOut:
    with runtime(request).db.write() as session:
        admin.create_plan(
            session,
            body.name,
            refund_undeliverable=body.refund_undeliverable,
            **who(request, principal),
        )
        return plan_out(admin.plan_summary(session, body.name))


@router.get("/v1/admin/plans/{name}", response_model=PlanOut, summary="One plan")
def read_plan(name: str, request: Request, principal: Operator) -> PlanOut:
    with runtime(request).db.read() as session:
        return plan_out(admin.plan_summary(session, name))


@router.patch(
    "/v1/admin/plans/{name}", response_model=PlanOut, summary="Change a plan's refund policy"
)
def patch_plan(name: str, body: PlanPatch, request: Request, principal: Operator) -> PlanOut:
    with runtime(request).db.write() as session:
        admin.set_plan_refund_policy(
            session, name, body.refund_undeliverable, **who(request, principal)
        )
        return plan_out(admin.plan_summary(session, name))


@router.put(
    "/v1/admin/plans/{name}/rates",
    response_model=PlanOut,
    summary="Replace the plan's rates with a CSV rate card (the plan is created if new)",
    responses=problem_responses(415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def put_rates(name: str, request: Request, principal: Operator) -> PlanOut:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise UnsupportedMediaType(
            f"send the rate card as text/csv, not {media or 'no content type'}"
        )
    raw = await read_body(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RateFileError(f"line {line}: not UTF-8 text (byte {exc.start})") from None
    rt = runtime(request)
    caller = who(request, principal)

    def replace() -> PlanOut:
        with rt.db.write() as session:
            admin.import_rates(session, name, text, **caller)
            return plan_out(admin.plan_summary(session, name))

    return await run_in_threadpool(replace)


@router.get(
    "/v1/admin/plans/{name}/rates.csv",
    summary="The plan's rates as CSV, in the import's columns",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_rates(name: str, request: Request, principal: Operator) -> Response:
    with runtime(request).db.read() as session:
        text = admin.export_rates(session, name)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "plan"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-rates.csv"'},
    )


@router.get(
    "/v1/admin/connectors/cost-plans",
    response_model=CostPlansOut,
    summary="Which plan prices what each connector charges",
)
def list_cost_plans(request: Request, principal: Operator) -> CostPlansOut:
    with runtime(request).db.read() as session:
        rows = admin.list_cost_plans(session)
    return CostPlansOut(cost_plans=[CostPlanOut(connector=r.connector, plan=r.plan) for r in rows])


@router.put(
    "/v1/admin/connectors/{connector}/cost-plan",
    response_model=CostPlanOut,
    summary="Set the plan that prices what the connector charges",
)
def put_cost_plan(
    connector: str, body: CostPlanIn, request: Request, principal: Operator
) -> CostPlanOut:
    with runtime(request).db.write() as session:
        row = admin.set_cost_plan(session, connector, body.plan, **who(request, principal))
    return CostPlanOut(connector=row.connector, plan=row.plan)


@router.delete(
    "/v1/admin/connectors/{connector}/cost-plan",
    status_code=204,
    response_class=Response,
    summary="Remove the connector's cost plan",
)
def delete_cost_plan(connector: str, request: Request, principal: Operator) -> Response:
    with runtime(request).db.write() as session:
        admin.remove_cost_plan(session, connector, **who(request, principal))
    return Response(status_code=204)
