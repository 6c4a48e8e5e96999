"""``/sendings``: price a text, create a sending, list them, read one."""

from __future__ import annotations

import math
import time
from decimal import Decimal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.errors import NotFound, SmsgateError
from smsgate.kit.ratelimit import RateLimiter
from smsgate.messaging import queries
from smsgate.messaging.models import Sending
from smsgate.messaging.prepare import SendRequest, resolve_all
from smsgate.pricing.quote import Quote, quote
from smsgate.runtime import Runtime
from smsgate.surfaces.deps import customer, customer_async, runtime, served
from smsgate.surfaces.smsgic._params import (
    SendingBody,
    SendingInput,
    check_sending,
    sending_body,
)
from smsgate.surfaces.smsgic._shape import (
    STATUSES,
    TOO_MANY,
    SmsgicError,
    answer,
    invalid,
    local_time,
    number,
    timestamp,
    translate,
)

router = APIRouter(tags=["SMSgic"])

CREATED = "SMS champing created"  # sic, as the seed
MAX_LIST = 1000
# Above this many recipients the syntax checks run on a worker thread, not the event loop
# (a million take about 0.4 s).
_INLINE_RECIPIENTS = 200


def _calculate_limiter(request: Request) -> RateLimiter:
    # One per gateway (not per module): tests run several, with their own token ids, in one
    # process. Created on the event loop thread, so never twice.
    state = served(request)
    limiter: RateLimiter | None = getattr(state, "smsgic_calculate_limiter", None)
    if limiter is None:
        limiter = RateLimiter(runtime(request).settings.smsgic_calculate_per_minute, 60.0)
        state.smsgic_calculate_limiter = limiter
    return limiter


def _throttle(request: Request, token_id: int) -> dict[str, str]:
    """Laravel's ``throttle`` middleware: its headers, or its 429."""
    decision = _calculate_limiter(request).hit(token_id)
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if not decision.allowed:
        wait = max(1, math.ceil(decision.reset_after))
        headers["Retry-After"] = str(wait)
        headers["X-RateLimit-Reset"] = str(int(time.time()) + wait)
        raise SmsgicError(429, {"message": TOO_MANY}, headers)
    return headers


async def _checked(
    body: SendingBody, *, zone: str = "UTC", need_sender: bool = True
) -> tuple[SendingInput, dict[str, list[str]]]:
    given = body.recipients
    if isinstance(given, list | str) and len(given) > _INLINE_RECIPIENTS:
        return await run_in_threadpool(check_sending, body, zone=zone, need_sender=need_sender)
    return check_sending(body, zone=zone, need_sender=need_sender)


def _quote(rt: Runtime, account_id: int, text: str, recipients: list[str]) -> Quote:
    destinations = resolve_all(recipients, rt.settings.max_recipients)
    with rt.db.read() as session:
        return quote(session, rt.sends.books, account_id, text, destinations)


def _calculation(q: Quote) -> dict[str, object]:
    per_message = q.segments.parts
    destinations = []
    for line in q.lines:
        # every number of a line costs the same: same parts, same rate, same tax
        each = number(line.total / len(line.numbers))
        rate = number(line.rate)
        destinations.append(
            {
                "numbers": [
                    {
                        "phone_number": int(msisdn),
                        "destination": line.destination,
                        "sms": per_message,
                        "rate": rate,
                        "total": each,
                    }
                    for msisdn in line.numbers
                ],
                "destination": line.destination,
                "sms_count": line.parts,
                "price": rate,
                "total": number(line.total),
            }
        )
    info: dict[str, int | Decimal] = {
        "sms_count": q.parts,
        "subtotal": number(q.subtotal),
        "total": number(q.total),
        "tax": number(q.tax),
    }
    return {"calculate": {"info": info, "destinations": destinations}}


@router.post("/sendings/calculate", summary="SMSgic: price a text for many numbers")
async def calculate(request: Request) -> Response:
    rt = runtime(request)
    principal = await customer_async(request)
    assert principal.account_id is not None
    headers = _throttle(request, principal.token_id)
    found, errors = await _checked(await sending_body(request), need_sender=False)
    if errors:
        raise invalid(errors)
    try:
        q = await run_in_threadpool(
            _quote, rt, principal.account_id, found.message, found.recipients
        )
    except SmsgateError as exc:
        raise translate(exc) from exc
    return answer(_calculation(q), headers=headers)


@router.post("/sendings", summary="SMSgic: create a sending (a campaign)")
async def create_sending(request: Request) -> Response:
    # The hot path: msgspec decoding, the cached token, group commit; no pydantic.
    rt = runtime(request)
    principal = await customer_async(request)
    assert principal.account_id is not None
    try:
        found, errors = await _checked(await sending_body(request), zone=principal.timezone)
        if errors:
            texts = [text for texts in errors.values() for text in texts]
            # The seed's quirk: every error of this route is under `errors.message`.
            raise invalid({"message": texts}, texts[0])
        accepted = await rt.sends.send(
            SendRequest(
                account_id=principal.account_id,
                recipients=found.recipients,
                text=found.message,
                sender=found.sender,
                scheduled_at=found.scheduled_at,
                requested_type=found.type,
                surface="smsgic",
                as_sending=True,
                want_messages=False,
            )
        )
    except SmsgateError as exc:
        raise translate(exc, key="message") from exc
    return answer({"message": CREATED, "sending_id": accepted.sending_id})


def _listed(s: Sending, zone: str) -> dict[str, object]:
    return {
        "id": s.id,
        "text": s.text,
        "created_at": timestamp(s.created_at),
        "scheduled_at": local_time(s.scheduled_at or s.created_at, zone),
        "status": STATUSES.get(s.status, s.status.title()),
        "total_sms": s.parts,
    }


def _integer(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise invalid({name: [f"The {name} must be an integer from {low} to {high}."]})
    return int(raw)


@router.get("/sendings", summary="SMSgic: the account's sendings, oldest first")
def list_sendings(request: Request) -> Response:
    principal = customer(request)
    assert principal.account_id is not None
    # Not in SMSgic: the newest `limit` (at most 1000) sendings, below `before_id` if given.
    limit = _integer(request, "limit", 1, MAX_LIST) or MAX_LIST
    before = _integer(request, "before_id", 1, 10**18)
    with runtime(request).db.read() as session:
        rows = queries.list_sendings(session, principal.account_id, limit=limit, before_id=before)
        body = [_listed(s, principal.timezone) for s in reversed(rows)]
    return answer({"sendings": body})


@router.get("/sendings/{sending_id}", summary="SMSgic: one sending's status")
def get_sending(sending_id: str, request: Request) -> Response:
    principal = customer(request)
    assert principal.account_id is not None
    # Laravel's route model binding: an id that is not a number is just not found.
    missing = SmsgicError(404, {"message": f"No query results for model {sending_id}"})
    if not (sending_id.isascii() and sending_id.isdigit() and len(sending_id) <= 18):
        raise missing
    try:
        with runtime(request).db.read() as session:
            s = queries.get_sending(session, principal.account_id, int(sending_id))
            sending = {
                "id": s.id,
                "status": STATUSES.get(s.status, s.status.title()),
                "updated_at": timestamp(s.updated_at),
                "scheduled_at": local_time(s.scheduled_at or s.created_at, principal.timezone),
            }
    except NotFound:
        raise missing from None
    return answer({"sending": sending})
