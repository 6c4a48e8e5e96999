"""Send: one message or a sending, with a live segment counter, a price per destination,
typed or uploaded recipients, and an optional schedule in the account's time zone.

The counter and the price come from the core (``messaging.segments``, ``pricing.quote``)
through small JSON endpoints under ``/app/api/``; ``static/send.js`` calls them as the
customer types, so the counting rule has one home.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import BackgroundTasks, File, Form, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from smsgate.dashboard import uploads
from smsgate.dashboard.web import (
    Customer,
    Viewer,
    account_of,
    page_router,
    render,
    runtime,
    see_other,
)
from smsgate.errors import InvalidRequest, SmsgateError
from smsgate.kit.money import format_amount
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.segments import count_segments
from smsgate.numbering import Destination, InvalidNumber, resolve
from smsgate.pricing.quote import quote
from smsgate.senders.service import list_senders

router = page_router()
SURFACE = "dashboard"
_SPLIT = re.compile(r"[\n\r,;]+")


def split_recipients(text: str) -> list[str]:
    """Typed numbers: one a line, or separated by commas or semicolons."""
    return [item.strip() for item in _SPLIT.split(text) if item.strip()]


def parse_schedule(value: str, timezone: str) -> datetime | None:
    """A ``datetime-local`` value read in the account's time zone."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(
            f"{value[:40]!r} is not a date and time", field="schedule", code="invalid_schedule"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


def _form(
    request: Request, viewer: Viewer, values: dict[str, str], error: SmsgateError | None = None
) -> Response:
    with runtime(request).db.read() as session:
        senders = list_senders(session, account_of(viewer), approved_only=True)
    context = {
        "senders": senders,
        "values": values,
        "error": error,
        "max_parts": runtime(request).settings.max_parts,
    }
    return render(request, "app/send.html", context, status=error.status if error else 200)


@router.get("/app/send")
def send_form(request: Request, viewer: Customer, to: str = "", text: str = "") -> Response:
    values = {"recipients": to[:200], "text": text[:2000], "sender": "", "schedule": ""}
    return _form(request, viewer, values | {"upload_id": ""})


@router.post("/app/send")
async def send(
    request: Request,
    viewer: Customer,
    text: Annotated[str, Form(max_length=5000)] = "",
    sender: Annotated[str, Form(max_length=30)] = "",
    recipients: Annotated[str, Form(max_length=200_000)] = "",
    upload_id: Annotated[str, Form(max_length=20)] = "",
    schedule: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    values = {
        "text": text,
        "sender": sender,
        "recipients": recipients,
        "upload_id": upload_id,
        "schedule": schedule,
    }
    account_id = account_of(viewer)
    try:
        if upload_id:
            numbers = await run_in_threadpool(_upload_numbers, request, account_id, upload_id)
        else:
            numbers = split_recipients(recipients)
        as_sending = bool(upload_id) or len(numbers) > 1
        accepted = await runtime(request).sends.send(
            SendRequest(
                account_id=account_id,
                recipients=numbers,
                text=text,
                sender=sender,
                scheduled_at=parse_schedule(schedule, viewer.timezone),
                surface=SURFACE,
                as_sending=as_sending,
                want_messages=not as_sending,
            )
        )
    except SmsgateError as exc:
        return await run_in_threadpool(_form, request, viewer, values, exc)
    if accepted.sending_id is not None:
        return see_other(f"/app/sendings/{accepted.sending_id}")
    return see_other(f"/app/messages/{accepted.messages[0].id}")


def _upload_numbers(request: Request, account_id: int, upload_id: str) -> list[str]:
    if not upload_id.isdigit():
        raise InvalidRequest("upload_id is not an upload", field="upload_id")
    with runtime(request).db.read() as session:
        return uploads.ready_numbers(session, account_id, int(upload_id))


class SegmentsIn(BaseModel):
    text: str = Field(max_length=20_000)


@router.post("/app/api/segments")
def segments(body: SegmentsIn, viewer: Customer) -> dict[str, object]:
    counted = count_segments(body.text)
    return {
        "characters": len(body.text),
        "encoding": counted.encoding.value,
        "parts": counted.parts,
        "units": counted.units,
        "per_part": counted.per_part,
        "remaining": counted.remaining,
    }


class QuoteIn(BaseModel):
    text: str = Field(max_length=20_000)
    recipients: str = Field("", max_length=200_000)
    upload_id: int | None = None


def _typed(recipients: str) -> tuple[list[Destination], list[dict[str, str]]]:
    found, invalid = [], []
    for raw in split_recipients(recipients):
        try:
            found.append(resolve(raw))
        except InvalidNumber as exc:
            invalid.append({"number": raw[:40], "reason": exc.reason})
    return found, invalid


@router.post("/app/api/quote")
def price(body: QuoteIn, request: Request, viewer: Customer) -> dict[str, object]:
    """The price of the text for the typed or uploaded numbers, per destination."""
    rt, account_id = runtime(request), account_of(viewer)
    invalid: list[dict[str, str]] = []
    with rt.db.read() as session:
        if body.upload_id is not None:
            row = uploads.get_upload(session, account_id, body.upload_id)
            destinations = uploads.quote_destinations(row)
        else:
            destinations, invalid = _typed(body.recipients)
        if not destinations or not body.text:
            return {"lines": [], "invalid": invalid, "numbers": 0}
        q = quote(session, rt.sends.books, account_id, body.text, destinations)
    return {
        "lines": [
            {
                "destination": line.destination,
                "numbers": len(line.numbers),
                "rate": format_amount(line.rate),
                "parts": line.parts,
                "total": format_amount(line.total),
            }
            for line in q.lines
        ],
        "invalid": invalid,
        "numbers": len(destinations),
        "parts": q.parts,
        "subtotal": format_amount(q.subtotal),
        "tax": format_amount(q.tax),
        "total": format_amount(q.total),
        "currency": q.currency,
    }


def _spool(upload: UploadFile) -> Path:
    with tempfile.NamedTemporaryFile(prefix="smsgate-upload-", delete=False) as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return Path(out.name)


@router.post("/app/api/uploads", status_code=202)
async def upload(
    request: Request,
    viewer: Customer,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File()],
) -> Response:
    """Take the file, answer with its id at once, and read it after the answer is sent."""
    rt, account_id = runtime(request), account_of(viewer)
    path = await run_in_threadpool(_spool, file)

    def start() -> int:
        with rt.db.write() as session:
            return uploads.start(session, account_id, file.filename or "upload")

    try:
        upload_id = await run_in_threadpool(start)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    background.add_task(uploads.process, rt.db, upload_id, path, rt.settings.max_recipients)
    return JSONResponse({"id": upload_id}, status_code=202, background=background)


@router.get("/app/api/uploads/{upload_id}")
def upload_progress(upload_id: int, request: Request, viewer: Customer) -> dict[str, object]:
    with runtime(request).db.read() as session:
        row = uploads.get_upload(session, account_of(viewer), upload_id)
        return {
            "id": row.id,
            "filename": row.filename,
            "status": row.status,
            "progress": row.progress / 1000,
            "rows": row.rows,
            "valid": row.valid,
            "invalid": row.invalid,
            "duplicates": row.duplicates,
            "invalid_sample": [
                {"row": r, "number": n, "reason": why}
                for r, n, why in json.loads(row.invalid_sample)
            ],
            "error": row.error,
        }
