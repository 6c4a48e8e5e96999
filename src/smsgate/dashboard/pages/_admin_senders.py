"""Sender-name approvals: every account's requests, pending ones first in line."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from starlette.responses import Response

from smsgate.dashboard.pages._admin_common import PAGE, accounts_by_id, who
from smsgate.dashboard.web import Operator, page_router, render, runtime, see_other
from smsgate.errors import InvalidRequest
from smsgate.senders import admin as senders_admin
from smsgate.senders.models import SenderStatus
from smsgate.surfaces.deps import MAX_BIG_ID, PathId

router = page_router()
# "all" is spelled out so that the default (the names waiting for a decision) can be left.
Status = Annotated[str, Query(max_length=20)]


def _status(status: str) -> SenderStatus | None:
    if status == "all":
        return None
    if status not in set(SenderStatus):
        raise InvalidRequest(f"unknown sender name state {status!r}", field="status")
    return SenderStatus(status)


@router.get("/admin/senders")
def senders(
    request: Request,
    viewer: Operator,
    status: Status = SenderStatus.PENDING.value,
    offset: Annotated[int, Query(ge=0, le=MAX_BIG_ID)] = 0,
    done: str = "",
) -> Response:
    with runtime(request).db.read() as session:
        rows, total = senders_admin.list_all(
            session, limit=PAGE, offset=offset, status=_status(status)
        )
        accounts = accounts_by_id(session, (s.account_id for s in rows))
    context = {
        "rows": rows,
        "total": total,
        "accounts": accounts,
        "status": status,
        "statuses": [s.value for s in SenderStatus],
        "offset": offset,
        "page": PAGE,
        "done": done,
    }
    return render(request, "admin/senders.html", context)


def _back(status: str, done: str) -> Response:
    return see_other("/admin/senders?" + urlencode({"status": status, "done": done}))


@router.post("/admin/senders/{sender_id}/approve")
def approve(
    request: Request,
    viewer: Operator,
    sender_id: PathId,
    back: Annotated[str, Form(max_length=20)] = "pending",
) -> Response:
    with runtime(request).db.write() as session:
        senders_admin.approve(session, sender_id, **who(request, viewer))
    return _back(back, "approved")


@router.post("/admin/senders/{sender_id}/reject")
def reject(
    request: Request,
    viewer: Operator,
    sender_id: PathId,
    reason: Annotated[str, Form(max_length=600)] = "",
    back: Annotated[str, Form(max_length=20)] = "pending",
) -> Response:
    with runtime(request).db.write() as session:
        senders_admin.reject(session, sender_id, reason, **who(request, viewer))
    return _back(back, "rejected")
