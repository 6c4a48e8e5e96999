"""The margin report and the audit log, with filters; days are the operator's (UTC)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from starlette.responses import Response

from smsgate.audit.service import list_entries
from smsgate.billing.margins import MarginGroup, MarginRow, margin_report
from smsgate.dashboard.pages._admin_common import PAGE, accounts_by_id, day, id_of
from smsgate.dashboard.queries import local_midnight
from smsgate.dashboard.web import Operator, Viewer, page_router, render, runtime
from smsgate.errors import InvalidRequest
from smsgate.kit.time import utcnow
from smsgate.surfaces.deps import MAX_BIG_ID

router = page_router()
DEFAULT_DAYS = 30
Day = Annotated[str, Query(max_length=10)]


def _today(viewer: Viewer) -> date:
    return utcnow().astimezone(ZoneInfo(viewer.timezone)).date()


@router.get("/admin/margins")
def margins(
    request: Request,
    viewer: Operator,
    since: Day = "",
    until: Day = "",
    group: MarginGroup = MarginGroup.ACCOUNT,
    account: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    account_id = id_of(account, "account")
    zone = ZoneInfo(viewer.timezone)
    last = day(until, "until") or _today(viewer)
    first = day(since, "since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidRequest("the first day comes after the last", field="since")
    start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    with runtime(request).db.read() as session:
        rows = margin_report(session, start, end, group, account_id)
        accounts = (
            accounts_by_id(session, (int(r.key) for r in rows))
            if group is MarginGroup.ACCOUNT
            else {}
        )
    total = MarginRow(
        "total",
        sum(r.messages for r in rows),
        sum(r.parts for r in rows),
        sum((r.revenue for r in rows), Decimal(0)),
        sum((r.cost for r in rows), Decimal(0)),
    )
    context = {
        "rows": rows,
        "total": total,
        "accounts": accounts,
        "filters": {"since": first.isoformat(), "until": last.isoformat(), "group": group.value,
                    "account": account.strip()},
        "groups": [g.value for g in MarginGroup],
    }  # fmt: skip
    return render(request, "admin/margins.html", context)


def _details(raw: str) -> list[tuple[str, str]]:
    """An entry's details as "key: value" pairs (values that are not text as JSON)."""
    found: dict[str, Any] = json.loads(raw) if raw else {}
    return [
        (k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in found.items()
    ]


@router.get("/admin/audit")
def audit_log(
    request: Request,
    viewer: Operator,
    action: Annotated[str, Query(max_length=64)] = "",
    since: Day = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)] = None,
) -> Response:
    first = day(since, "since")
    start: datetime | None = None
    if first is not None:
        start = local_midnight(first, ZoneInfo(viewer.timezone))
    with runtime(request).db.read() as session:
        rows = list_entries(
            session, limit=PAGE + 1, before_id=before, since=start, action=action.strip() or None
        )
    more, rows = len(rows) > PAGE, rows[:PAGE]
    filters = {"action": action.strip(), "since": since}
    context = {
        "rows": [(e, _details(e.details)) for e in rows],
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "older": rows[-1].id if more else None,
    }
    return render(request, "admin/audit.html", context)
