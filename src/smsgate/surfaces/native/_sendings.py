"""``/v1/sendings``: campaigns of one text to many recipients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from smsgate.accounts.service import Principal
from smsgate.kit.money import format_amount
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.lifecycle import cancel_sending
from smsgate.messaging.models import Sending
from smsgate.messaging.prepare import SendRequest
from smsgate.surfaces.deps import BigPathId, customer, runtime
from smsgate.surfaces.native._messages import parse_cursor
from smsgate.surfaces.native.schemas import CancelOut, SendingIn, SendingOut, SendingsPage
from smsgate.surfaces.rendering import problem_responses

router = APIRouter(tags=["sendings"])
Customer = Annotated[Principal, Depends(customer)]


def sending_out(s: Sending, counts: dict[str, int] | None = None) -> SendingOut:
    return SendingOut(
        id=s.id,
        status=s.status,
        text=s.text,
        sender=s.sender,
        recipients=s.recipients,
        parts=s.parts,
        cost=format_amount(s.price),
        scheduled_at=s.scheduled_at,
        created_at=s.created_at,
        updated_at=s.updated_at,
        messages_by_status=counts,
    )


@router.post(
    "/v1/sendings",
    response_model=SendingOut,
    status_code=201,
    summary="Create a sending",
    responses=problem_responses(402),
)
async def create_sending(body: SendingIn, request: Request, principal: Customer) -> SendingOut:
    assert principal.account_id is not None
    rt = runtime(request)
    accepted = await rt.sends.send(
        SendRequest(
            account_id=principal.account_id,
            recipients=body.recipients,
            text=body.text,
            sender=body.sender,
            scheduled_at=body.scheduled_at,
            callback_url=body.callback_url,
            requested_type=body.type,
            as_sending=True,
            want_messages=False,
        )
    )
    assert accepted.sending_id is not None
    with rt.db.read() as session:
        return sending_out(queries.get_sending(session, principal.account_id, accepted.sending_id))


@router.get("/v1/sendings", response_model=SendingsPage, summary="Sendings, newest first")
def list_sendings(
    request: Request,
    principal: Customer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> SendingsPage:
    assert principal.account_id is not None
    with runtime(request).db.read() as session:
        rows = queries.list_sendings(
            session, principal.account_id, limit=limit, before_id=parse_cursor(cursor)
        )
    return SendingsPage(
        sendings=[sending_out(s) for s in rows],
        next_cursor=str(rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/v1/sendings/{sending_id}", response_model=SendingOut, summary="One sending")
def get_sending(sending_id: BigPathId, request: Request, principal: Customer) -> SendingOut:
    assert principal.account_id is not None
    with runtime(request).db.read() as session:
        sending = queries.get_sending(session, principal.account_id, sending_id)
        return sending_out(sending, queries.sending_counts(session, sending.id))


@router.post(
    "/v1/sendings/{sending_id}/cancel",
    response_model=CancelOut,
    summary="Cancel what has not left yet (refunded)",
)
def post_cancel(sending_id: BigPathId, request: Request, principal: Customer) -> CancelOut:
    assert principal.account_id is not None
    with runtime(request).db.write() as session:
        count = cancel_sending(session, principal.account_id, sending_id, utcnow())
        sending = queries.get_sending(session, principal.account_id, sending_id)
        return CancelOut(
            cancelled=count,
            sending=sending_out(sending, queries.sending_counts(session, sending_id)),
        )
