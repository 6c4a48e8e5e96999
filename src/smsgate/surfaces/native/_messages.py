"""``/v1/messages``: the hot single-send path, and reading messages back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from smsgate.accounts.service import Principal
from smsgate.errors import Forbidden, InvalidRequest
from smsgate.kit.money import format_amount
from smsgate.kit.time import in_range, utcnow
from smsgate.messaging import queries
from smsgate.messaging.accept import body_hash
from smsgate.messaging.lifecycle import cancel_messages
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import Accepted, IdempotencyClaim, SendRequest
from smsgate.messaging.status import MessageStatus
from smsgate.surfaces.deps import (
    BAD_JSON,
    MAX_BIG_ID,
    BigPathId,
    BigQueryId,
    authenticate_async,
    bearer,
    customer,
    read_body,
    runtime,
)
from smsgate.surfaces.native.schemas import (
    MessageOut,
    MessagePage,
    SendBody,
    SendMessagesIn,
    SendMessagesOut,
)
from smsgate.surfaces.rendering import json_response, problem_responses

router = APIRouter(tags=["messages"])
_decoder = msgspec.json.Decoder(SendBody)
_encoder = msgspec.json.Encoder()


def _accepted_json(accepted: Accepted, currency: str) -> bytes:
    return _encoder.encode(
        {
            "messages": [
                {
                    "id": m.id,
                    "request_id": m.request_id,
                    "to": m.msisdn,
                    "destination": m.destination,
                    "status": m.status,
                    "parts": m.parts,
                    "cost": format_amount(m.price),
                }
                for m in accepted.messages
            ],
            "total_cost": format_amount(accepted.total),
            "currency": currency,
            "balance": format_amount(accepted.balance_after),
        }
    )


@router.post(
    "/v1/messages",
    summary="Send one message or the same text to several numbers",
    response_model=SendMessagesOut,
    responses=problem_responses(402),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SendMessagesIn.model_json_schema()}},
        }
    },
)
async def send_messages(request: Request) -> Response:
    # Lean on purpose: msgspec decoding, cached auth, group commit; no pydantic on this path.
    rt = runtime(request)
    principal = await authenticate_async(request, bearer(request))
    if principal.account_id is None:
        raise Forbidden("this route needs a customer token", code="customer_only")
    raw = await read_body(request)
    try:
        body = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request body: {exc}", code="invalid_body") from exc
    except BAD_JSON as exc:
        raise InvalidRequest("the request body is not valid JSON", code="malformed_json") from exc
    recipients = [body.to] if isinstance(body.to, str) else body.to
    key = request.headers.get("idempotency-key")
    claim = None
    if key:
        if len(key) > 200:
            raise InvalidRequest(
                "Idempotency-Key is longer than 200 characters", code="invalid_key"
            )
        digest = body_hash(raw)
        stored = rt.sends.replay(principal.account_id, key, digest)
        if stored is not None:
            return Response(
                stored, media_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        currency = principal.currency
        claim = IdempotencyClaim(key, digest, lambda a: _accepted_json(a, currency))
    accepted = await rt.sends.send(
        SendRequest(
            account_id=principal.account_id,
            recipients=recipients,
            text=body.text,
            sender=body.sender,
            scheduled_at=body.scheduled_at,
            callback_url=body.callback_url,
            idempotency=claim,
        )
    )
    return Response(_accepted_json(accepted, principal.currency), media_type="application/json")


def message_out(m: Message, currency: str) -> MessageOut:
    return MessageOut(
        id=m.id,
        request_id=m.request_id,
        to=m.msisdn,
        destination=m.destination,
        sender=m.sender,
        status=m.status,
        parts=m.parts,
        encoding=m.encoding,
        cost=format_amount(m.price),
        currency=currency,
        error_code=m.error_code,
        sending_id=m.sending_id,
        created_at=m.created_at,
        scheduled_at=m.scheduled_at,
        submitted_at=m.submitted_at,
        done_at=m.done_at,
    )


def check_aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and value.tzinfo is None:
            raise InvalidRequest(f"{name} needs a time zone, e.g. 2026-01-01T00:00:00Z", field=name)
        if value is not None and not in_range(value):
            raise InvalidRequest(f"{name} must lie between the years 1900 and 9000", field=name)


def parse_cursor(cursor: str | None, *, high: int = MAX_BIG_ID) -> int | None:
    """A page's ``next_cursor``: an id no larger than the listed table's key can hold."""
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > high:
        raise InvalidRequest(
            f"cursor {cursor[:40]!r} is not a cursor from a previous page",
            field="cursor",
            code="invalid_cursor",
        )
    return int(cursor)


@router.get("/v1/messages/{message_id}", response_model=MessageOut, summary="One message")
def get_message(
    message_id: BigPathId, request: Request, principal: Annotated[Principal, Depends(customer)]
) -> MessageOut:
    assert principal.account_id is not None
    with runtime(request).db.read() as session:
        message = queries.get_message(session, principal.account_id, message_id)
        return message_out(message, principal.currency)


@router.get("/v1/messages", response_model=MessagePage, summary="History, newest first")
def list_messages(
    request: Request,
    principal: Annotated[Principal, Depends(customer)],
    status: Annotated[list[MessageStatus] | None, Query()] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    phone: Annotated[str | None, Query(max_length=20)] = None,
    sending_id: BigQueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> MessagePage:
    assert principal.account_id is not None
    check_aware(since=since, until=until)
    flt = queries.MessageFilter(
        statuses=[s.value for s in status or []],
        since=since,
        until=until,
        phone=phone,
        sending_id=sending_id,
    )
    with runtime(request).db.read() as session:
        rows = queries.list_messages(
            session, principal.account_id, flt, limit=limit, before_id=parse_cursor(cursor)
        )
    return MessagePage(
        messages=[message_out(m, principal.currency) for m in rows],
        next_cursor=str(rows[-1].id) if len(rows) == limit else None,
    )


__all__ = ["json_response", "router"]


@router.post(
    "/v1/messages/{message_id}/cancel",
    response_model=MessageOut,
    summary="Cancel a message that has not left yet (refunded)",
)
def cancel_message(
    message_id: BigPathId, request: Request, principal: Annotated[Principal, Depends(customer)]
) -> MessageOut:
    assert principal.account_id is not None
    with runtime(request).db.write() as session:
        message = queries.get_message(session, principal.account_id, message_id)
        if not cancel_messages(session, principal.account_id, utcnow(), message_id=message_id):
            raise InvalidRequest(
                f"message {message_id} is {message.status} and can no longer be cancelled",
                code="not_cancellable",
            )
        session.refresh(message)
        return message_out(message, principal.currency)
