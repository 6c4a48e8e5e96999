"""The operator's overview: accounts, what waits for a decision, today's traffic by status
and the connectors at a glance."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.accounts import admin as accounts_admin
from smsgate.accounts.models import AccountStatus
from smsgate.billing import invoices
from smsgate.billing.models import InvoiceStatus
from smsgate.dashboard.pages._admin_connectors import connector_states
from smsgate.dashboard.web import Operator, page_router, render, runtime
from smsgate.db import Database
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.status import MessageStatus
from smsgate.senders import admin as senders_admin
from smsgate.senders.models import SenderStatus

router = page_router()


def _counts(db: Database, day_start: datetime) -> dict[str, Any]:
    with db.read() as session:

        def total(status: AccountStatus | None) -> int:
            return accounts_admin.list_accounts(session, limit=1, status=status)[1]

        return {
            "accounts": {
                "all": total(None),
                "active": total(AccountStatus.ACTIVE),
                "suspended": total(AccountStatus.SUSPENDED),
            },
            "pending_senders": senders_admin.list_all(
                session, limit=1, status=SenderStatus.PENDING
            )[1],
            "unpaid_invoices": invoices.list_invoices(
                session, None, limit=1, status=InvoiceStatus.UNPAID
            )[1],
            "queued": queries.queue_depth(session),
            "today": queries.counts_by_status(session, since=day_start),
        }


@router.get("/admin")
async def overview(request: Request, viewer: Operator) -> Response:
    rt = runtime(request)
    local = utcnow().astimezone(ZoneInfo(viewer.timezone))  # UTC for operators
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    context = await run_in_threadpool(_counts, rt.db, day_start)
    context |= {
        "statuses": [s.value for s in MessageStatus],
        "connectors": await connector_states(rt),
        "day_start": day_start,
    }
    return render(request, "admin/overview.html", context)
