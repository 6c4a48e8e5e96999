"""Sender names of every account: review, approve, reject."""

from __future__ import annotations

from fastapi import APIRouter, Request

from smsgate.senders import admin
from smsgate.senders.models import Sender, SenderStatus
from smsgate.surfaces.admin._common import Limit, Offset, Operator, who
from smsgate.surfaces.admin.schemas import RejectIn, SenderOut, SendersPage
from smsgate.surfaces.deps import PathId, QueryId, runtime

router = APIRouter(tags=["admin: sender names"])


def sender_out(s: Sender) -> SenderOut:
    return SenderOut.model_validate(s, from_attributes=True)


@router.get(
    "/v1/admin/senders",
    response_model=SendersPage,
    summary="Sender names of every account, oldest first",
)
def list_senders(
    request: Request,
    principal: Operator,
    status: SenderStatus | None = None,
    account_id: QueryId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SendersPage:
    with runtime(request).db.read() as session:
        rows, total = admin.list_all(
            session, limit=limit, offset=offset, status=status, account_id=account_id
        )
    return SendersPage(
        senders=[sender_out(s) for s in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "/v1/admin/senders/{sender_id}/approve", response_model=SenderOut, summary="Approve a name"
)
def approve(sender_id: PathId, request: Request, principal: Operator) -> SenderOut:
    with runtime(request).db.write() as session:
        return sender_out(admin.approve(session, sender_id, **who(request, principal)))


@router.post(
    "/v1/admin/senders/{sender_id}/reject",
    response_model=SenderOut,
    summary="Reject a name, with a reason the customer sees",
)
def reject(sender_id: PathId, body: RejectIn, request: Request, principal: Operator) -> SenderOut:
    with runtime(request).db.write() as session:
        return sender_out(admin.reject(session, sender_id, body.reason, **who(request, principal)))
