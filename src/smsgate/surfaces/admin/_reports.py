"""The margin report and the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request

from smsgate.audit.models import AuditEntry
from smsgate.audit.service import list_entries
from smsgate.billing.margins import MarginGroup, MarginRow, margin_report
from smsgate.errors import InvalidRequest
from smsgate.kit.money import format_amount
from smsgate.kit.time import utcnow
from smsgate.surfaces.admin._common import Limit, Operator
from smsgate.surfaces.admin.schemas import AuditEntryOut, AuditPage, MarginReportOut, MarginRowOut
from smsgate.surfaces.deps import MAX_ID, QueryId, runtime
from smsgate.surfaces.native._messages import check_aware

router = APIRouter(tags=["admin: reports"])
DEFAULT_SPAN = timedelta(days=30)


def _row(r: MarginRow) -> MarginRowOut:
    return MarginRowOut(
        key=r.key,
        messages=r.messages,
        parts=r.parts,
        revenue=format_amount(r.revenue),
        cost=format_amount(r.cost),
        margin=format_amount(r.margin),
    )


@router.get(
    "/v1/admin/reports/margins",
    response_model=MarginReportOut,
    summary="Revenue, cost and margin of messages created in [since, until)",
)
def margins(
    request: Request,
    principal: Operator,
    since: Annotated[datetime | None, Query(description="Default: until - 30 days")] = None,
    until: Annotated[datetime | None, Query(description="Default: now")] = None,
    group: MarginGroup = MarginGroup.ACCOUNT,
    account_id: QueryId = None,
) -> MarginReportOut:
    check_aware(since=since, until=until)
    until = until or utcnow()
    since = since or until - DEFAULT_SPAN
    if since >= until:
        raise InvalidRequest("since must be earlier than until", field="query.since")
    with runtime(request).db.read() as session:
        rows = margin_report(session, since, until, group, account_id)
    total = MarginRow(
        "total",
        sum(r.messages for r in rows),
        sum(r.parts for r in rows),
        sum((r.revenue for r in rows), Decimal(0)),
        sum((r.cost for r in rows), Decimal(0)),
    )
    return MarginReportOut(
        since=since, until=until, group=group, rows=[_row(r) for r in rows], total=_row(total)
    )


def _entry(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=e.id,
        actor=e.actor,
        action=e.action,
        target=e.target,
        details=json.loads(e.details) if e.details else {},
        address=e.address,
        created_at=e.created_at,
    )


@router.get("/v1/admin/audit", response_model=AuditPage, summary="The audit log, newest first")
def audit_log(
    request: Request,
    principal: Operator,
    limit: Limit = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the previous page")
    ] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. token.create")] = None,
    since: datetime | None = None,
) -> AuditPage:
    check_aware(since=since)
    with runtime(request).db.read() as session:
        rows = list_entries(session, limit=limit, before_id=before, since=since, action=action)
    return AuditPage(
        entries=[_entry(e) for e in rows],
        next_cursor=str(rows[-1].id) if len(rows) == limit else None,
    )
