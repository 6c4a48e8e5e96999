"""The devsms.uz surface, ``/api/*.php``: a drop-in for clients written against devsms.uz.

Thin on purpose: each route turns the request into core calls (``SendService.send``,
``messaging.queries``, ``billing.ledger``, the rate books) and the answer into devsms JSON.
Choices the seed leaves open are explained in ``docs/api/devsms.md``:

- parameters come from the query string and, on ``POST``, from a JSON, urlencoded or
  multipart body (PHP's ``CURLOPT_POSTFIELDS`` with an array sends multipart); unknown ones
  are ignored;
- money is a JSON number with its exact decimal digits (msgspec's ``decimal_format="number"``
  writes a ``Decimal`` as its digits, never through a float), trailing zeros dropped;
- every error is ``{"success": false, "error": "..."}`` with 400, 401, 403, 404, 500 or 503;
  the core's 422 and 402 (insufficient balance) become 400, the only client-error code the
  seed documents besides auth and not found.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import msgspec
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.accounts.service import get_account
from smsgate.billing import ledger
from smsgate.errors import InvalidRequest, SmsgateError, retry_headers
from smsgate.kit.money import format_amount
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.accept import body_hash
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import Accepted, IdempotencyClaim, SendRequest
from smsgate.messaging.status import MessageStatus
from smsgate.pricing.service import charge_for
from smsgate.runtime import Runtime
from smsgate.surfaces.deps import BAD_JSON, customer_async, read_body, runtime
from smsgate.surfaces.rendering import register

router = APIRouter(tags=["devsms.uz"])

# The only place canonical statuses meet devsms.uz's vocabulary (BRIEF.md).
STATUSES: dict[MessageStatus, str] = {
    MessageStatus.SCHEDULED: "waiting",
    MessageStatus.QUEUED: "waiting",
    MessageStatus.SUBMITTED: "ACCEPTED",
    MessageStatus.DELIVERED: "DELIVERED",
    MessageStatus.UNDELIVERABLE: "UNDELIVERABLE",
    MessageStatus.REJECTED: "REJECTED",
    MessageStatus.CANCELLED: "REJECTED",
}
# A history filter, any case (``waiting`` or ``WAITING``), to the canonical statuses it covers.
_CANONICAL: dict[str, list[str]] = {
    name.upper(): [s.value for s, n in STATUSES.items() if n == name] for name in STATUSES.values()
}

SENT = "SMS muvaffaqiyatli yuborildi"
HOME_MCC = "434"  # Uzbekistan: the market whose one-part price get_balance.php shows
MAX_LIMIT = 200
# The seed's `type` values; `eskiz` and `simple` both mean an ordinary text here.
PLAIN_TYPES = frozenset({"", "eskiz", "simple"})
_PHP_TIME = "%Y-%m-%d %H:%M:%S"
# The core's 422 (validation) and 402 (insufficient balance) as the seed's 400.
_HTTP_STATUS = {422: 400, 402: 400}

_encoder = msgspec.json.Encoder(decimal_format="number")


class SendBody(msgspec.Struct):
    phone: str | int | None = None
    message: str | None = None
    sender: str | int | None = msgspec.field(default=None, name="from")
    callback_url: str | None = None
    type: str | None = None


_decoder = msgspec.json.Decoder(SendBody)


def render_error(exc: SmsgateError) -> Response:
    return Response(
        _encoder.encode({"success": False, "error": exc.message}),
        status_code=_HTTP_STATUS.get(exc.status, exc.status),
        headers=retry_headers(exc),
        media_type="application/json",
    )


def owns(path: str) -> bool:
    """``/api/<script>.php``; deeper paths such as ``/api/v1/x.php`` belong to sms.by."""
    return path.startswith("/api/") and path.endswith(".php") and "/" not in path[5:]


register(owns, render_error)


def _json(body: object) -> Response:
    return Response(_encoder.encode(body), media_type="application/json")


def _money(amount: Decimal) -> Decimal:
    """An amount for a JSON number: exact, trailing zeros dropped (50, 0.045), no exponent."""
    return Decimal(format_amount(amount, min_places=0))


def _time(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).strftime(_PHP_TIME) if value is not None else None


# --- parameters -------------------------------------------------------------------------


def _body_fields(raw: bytes, content_type: str) -> dict[str, object]:
    """The fields of a JSON, urlencoded or multipart body; an empty body has none."""
    media = content_type.partition(";")[0].strip().lower()
    if not raw.strip():
        return {}
    if media == "multipart/form-data":
        return _multipart(raw, content_type)
    # Decoded as JSON whatever the Content-Type when it looks like JSON: `curl -d '{...}'`
    # without `-H 'Content-Type: application/json'` says urlencoded.
    if media == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"{"):
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise InvalidRequest("the form body is not valid UTF-8") from exc
    try:
        fields = msgspec.json.decode(raw)
    except BAD_JSON as exc:
        raise InvalidRequest("the request body is not valid JSON", code="malformed_json") from exc
    if not isinstance(fields, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_body")
    return fields


def _multipart(raw: bytes, content_type: str) -> dict[str, object]:
    # The stdlib MIME parser: the project does not depend on python-multipart.
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    parsed = email.message_from_bytes(head + raw, policy=email.policy.HTTP)
    if not parsed.is_multipart():
        raise InvalidRequest("the multipart body has no parts", code="invalid_body")
    fields: dict[str, object] = {}
    for part in parsed.walk():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            try:
                fields[name] = payload.decode(part.get_content_charset() or "utf-8")
            except (LookupError, UnicodeDecodeError) as exc:
                raise InvalidRequest(f"form field {name!r} is not valid text") from exc
    return fields


async def _params(request: Request) -> dict[str, object]:
    """Query parameters, overridden by the body's fields on POST."""
    fields: dict[str, object] = dict(request.query_params)
    if request.method == "POST":
        raw = await read_body(request)
        fields.update(_body_fields(raw, request.headers.get("content-type", "")))
    return fields


def _text(fields: Mapping[str, object], name: str) -> str | None:
    """A parameter as text; an empty value counts as absent, as PHP's ``empty()`` does."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequest(f"{name} must be a string or a number", field=name)
    return str(value)


def _integer(fields: Mapping[str, object], name: str, default: int | None = None) -> int | None:
    text = _text(fields, name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise InvalidRequest(
            f"{name} must be a non-negative integer, not {text[:40]!r}", field=name
        )
    return int(text)


def _send_body(raw: bytes, request: Request) -> SendBody:
    content_type = request.headers.get("content-type", "")
    try:
        if "json" in content_type.lower() or raw.lstrip().startswith(b"{"):
            body = _decoder.decode(raw)
        else:
            body = msgspec.convert(_body_fields(raw, content_type), SendBody)
        if request.query_params:
            given = {k: v for k, v in msgspec.to_builtins(body).items() if v is not None}
            body = msgspec.convert({**request.query_params, **given}, SendBody)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request: {exc}", code="invalid_body") from exc
    except BAD_JSON as exc:
        raise InvalidRequest("the request body is not valid JSON", code="malformed_json") from exc
    return body


# --- routes -----------------------------------------------------------------------------


def _sent_json(accepted: Accepted) -> bytes:
    message = accepted.messages[0]
    return _encoder.encode(
        {
            "success": True,
            "message": SENT,
            "data": {
                "sms_id": message.id,
                "request_id": message.request_id,
                "status": STATUSES[MessageStatus(message.status)],
                "parts_count": message.parts,
                "total_cost": _money(accepted.total),
                "balance": _money(accepted.balance_after),
            },
        }
    )


_SEND_SCHEMA = {
    "type": "object",
    "required": ["phone", "message"],
    "properties": {
        "phone": {"type": "string", "example": "998901234567"},
        "message": {"type": "string", "example": "Test SMS"},
        "from": {"type": "string", "description": "an approved sender; default 4546"},
        "callback_url": {"type": "string", "format": "uri"},
    },
}


@router.post(
    "/api/send_sms.php",
    summary="devsms.uz: send one SMS",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": _SEND_SCHEMA}
                for media in (
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                )
            },
        }
    },
)
async def send_sms(request: Request) -> Response:
    # The hot path: msgspec decoding, cached auth, group commit; no pydantic.
    rt = runtime(request)
    principal = await customer_async(request)
    assert principal.account_id is not None
    raw = await read_body(request)
    body = _send_body(raw, request)
    if body.phone is None or body.phone == "":
        raise InvalidRequest("phone is required, e.g. 998901234567", field="phone")
    if body.message is None:
        raise InvalidRequest("message is required", field="message")
    kind = (body.type or "").strip().lower()
    if kind not in PLAIN_TYPES:
        raise InvalidRequest(
            f"type {body.type!r} is not supported; send the text in message (type eskiz)",
            field="type",
        )
    claim = None
    key = request.headers.get("idempotency-key")
    if key:
        if len(key) > 200:
            raise InvalidRequest("Idempotency-Key is longer than 200 characters")
        digest = body_hash(raw)
        stored = rt.sends.replay(principal.account_id, key, digest)
        if stored is not None:
            return Response(
                stored, media_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        claim = IdempotencyClaim(key, digest, _sent_json)
    sender = body.sender if body.sender not in (None, "") else rt.settings.devsms_default_sender
    accepted = await rt.sends.send(
        SendRequest(
            account_id=principal.account_id,
            recipients=[str(body.phone)],
            text=body.message,
            sender=str(sender),
            callback_url=body.callback_url,
            surface="devsms",
            idempotency=claim,
        )
    )
    return Response(_sent_json(accepted), media_type="application/json")


def _row(m: Message, zone: ZoneInfo) -> dict[str, object]:
    return {
        "sms_id": m.id,
        "request_id": m.request_id,
        "phone": m.msisdn,
        "message": m.text,
        "from": m.sender,
        "status": STATUSES[MessageStatus(m.status)],
        "parts_count": m.parts,
        # what the message costs the customer in the end: nothing once refunded
        "total_cost": _money(Decimal(0) if m.refunded else m.price),
        "country_code": m.country.lower(),
        "error_code": m.error_code,
        "created_at": _time(m.created_at, zone),
        "sent_at": _time(m.submitted_at, zone),
        "done_at": _time(m.done_at, zone),
    }


def _history(rt: Runtime, account_id: int, zone: str, fields: dict[str, object]) -> Response:
    limit = _integer(fields, "limit", 50)
    offset = _integer(fields, "offset", 0)
    assert limit is not None and offset is not None
    if limit < 1:
        raise InvalidRequest("limit must be at least 1", field="limit")
    limit = min(limit, MAX_LIMIT)
    status = _text(fields, "status")
    statuses: list[str] = []
    if status is not None:
        statuses = _CANONICAL.get(status.upper(), [])
        if not statuses:
            known = ", ".join(dict.fromkeys(STATUSES.values()))
            raise InvalidRequest(f"status {status[:40]!r} is not one of {known}", field="status")
    with rt.db.read() as session:
        rows = queries.list_messages(
            session,
            account_id,
            queries.MessageFilter(statuses=statuses),
            limit=limit,
            offset=offset,
        )
        tz = ZoneInfo(zone)
        data = [_row(m, tz) for m in rows]
    return _json(
        {"success": True, "data": data, "limit": limit, "offset": offset, "count": len(data)}
    )


@router.get("/api/get_history.php", summary="devsms.uz: history")
@router.post("/api/get_history.php", include_in_schema=False)
async def get_history(request: Request) -> Response:
    principal = await customer_async(request)
    assert principal.account_id is not None
    fields = await _params(request)
    return await run_in_threadpool(
        _history, runtime(request), principal.account_id, principal.timezone, fields
    )


def _balance(rt: Runtime, account_id: int) -> Response:
    with rt.db.read() as session:
        account = get_account(session, account_id)
        balance = ledger.balance(session, account_id)
        plan = account.price_plan_id
        book = rt.sends.books.get(session, [plan]).get(plan) if plan is not None else None
        stats = queries.statistics(session, account_id, account.timezone, utcnow())
    rate = book.rate(HOME_MCC, None) if book is not None else None
    price = None
    if rate is not None:
        net, tax = charge_for(1, rate, account.tax_rate)
        price = _money(net + tax)
    return _json(
        {
            "success": True,
            "data": {
                "balance": _money(balance),
                "sms_price": price,
                "statistics": {
                    "total_sms": stats.total.messages,
                    "total_spent": _money(stats.total.spent),
                    "today_sms": stats.today.messages,
                    "today_spent": _money(stats.today.spent),
                    "month_sms": stats.month.messages,
                    "month_spent": _money(stats.month.spent),
                },
            },
        }
    )


@router.get("/api/get_balance.php", summary="devsms.uz: balance")
@router.post("/api/get_balance.php", include_in_schema=False)
async def get_balance(request: Request) -> Response:
    principal = await customer_async(request)
    assert principal.account_id is not None
    return await run_in_threadpool(_balance, runtime(request), principal.account_id)


def _status(rt: Runtime, account_id: int, zone: str, fields: dict[str, object]) -> Response:
    sms_id = _integer(fields, "sms_id")
    request_id = _text(fields, "request_id")
    with rt.db.read() as session:
        if sms_id is not None:
            message = queries.get_message(session, account_id, sms_id)
        elif request_id is not None:
            message = queries.get_message_by_request_id(session, account_id, request_id)
        else:
            raise InvalidRequest("sms_id or request_id is required", field="sms_id")
        return _json({"success": True, "data": _row(message, ZoneInfo(zone))})


@router.get("/api/get_status.php", summary="devsms.uz: status")
@router.post("/api/get_status.php", include_in_schema=False)
async def get_status(request: Request) -> Response:
    principal = await customer_async(request)
    assert principal.account_id is not None
    fields = await _params(request)
    return await run_in_threadpool(
        _status, runtime(request), principal.account_id, principal.timezone, fields
    )


__all__ = ["STATUSES", "owns", "render_error", "router"]
