"""History: messages with filters and CSV export, a message's page, sendings and cancel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from starlette.responses import Response, StreamingResponse

from smsgate.dashboard.queries import local_midnight
from smsgate.dashboard.web import (
    Customer,
    Viewer,
    account_of,
    gettext_for,
    page_router,
    render,
    runtime,
    see_other,
)
from smsgate.db import Database
from smsgate.errors import InvalidRequest
from smsgate.kit.csvsafe import safe_row
from smsgate.kit.money import format_amount
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.lifecycle import CANCELLABLE, cancel_messages, cancel_sending
from smsgate.messaging.models import Message, MessagePart
from smsgate.messaging.status import MessageStatus, SendingStatus
from smsgate.webhooks import service as webhooks

router = page_router()
PAGE = 50
EXPORT_BATCH = 2000
# "to" is E.164 digits without "+", which a spreadsheet would read as a formula sign.
EXPORT_COLUMNS = (
    "id", "request_id", "created_at", "to", "destination", "sender", "status", "error_code",
    "parts", "encoding", "price", "sending_id", "scheduled_at", "submitted_at", "done_at", "text",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filters:
    """The history's filters as the form sends them (dates in the account's zone)."""

    status: str = ""
    since: str = ""
    until: str = ""
    phone: str = ""
    sending: str = ""

    def query(self, viewer: Viewer) -> queries.MessageFilter:
        zone = ZoneInfo(viewer.timezone)
        if self.status and self.status not in set(MessageStatus):
            raise InvalidRequest(f"unknown status {self.status!r}", field="status")
        if self.sending and not self.sending.isdigit():
            raise InvalidRequest("sending is a sending's number", field="sending")
        since, until = _day(self.since, "since"), _day(self.until, "until")
        return queries.MessageFilter(
            statuses=[self.status] if self.status else [],
            since=local_midnight(since, zone) if since else None,
            until=local_midnight(until + timedelta(days=1), zone) if until else None,
            phone="".join(c for c in self.phone if c.isdigit()) or None,
            sending_id=int(self.sending) if self.sending else None,
        )

    def link(self) -> str:
        """The filters as a query string, for the export and the next page."""
        return urlencode({k: v for k, v in asdict(self).items() if v})


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{name}: {text[:20]!r} is not a date", field=name) from None


Text = Annotated[str, Query(max_length=40)]


@router.get("/app/messages")
def history(
    request: Request,
    viewer: Customer,
    status: Text = "",
    since: Text = "",
    until: Text = "",
    phone: Text = "",
    sending: Text = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    filters = Filters(status, since, until, phone, sending)
    with runtime(request).db.read() as session:
        rows = queries.list_messages(
            session, account_of(viewer), filters.query(viewer), limit=PAGE, before_id=before
        )
    context = {
        "rows": rows,
        "filters": filters,
        "query": filters.link(),
        "statuses": [s.value for s in MessageStatus],
        "older": rows[-1].id if len(rows) == PAGE else None,
    }
    return render(request, "app/history.html", context)


def _export_rows(
    db: Database, account_id: int, flt: queries.MessageFilter, zone: ZoneInfo
) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    before: int | None = None
    while True:
        with db.read() as session:
            rows = queries.list_messages(
                session, account_id, flt, limit=EXPORT_BATCH, before_id=before
            )
        for m in rows:
            writer.writerow(safe_row(_export_cells(m, zone), allow_numbers=True))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(rows) < EXPORT_BATCH:
            return
        before = rows[-1].id


def _export_cells(m: Message, zone: ZoneInfo) -> list[object]:
    def at(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""

    return [
        m.id, m.request_id, at(m.created_at), m.msisdn, m.destination, m.sender, m.status,
        m.error_code, m.parts, m.encoding, format_amount(m.price), m.sending_id,
        at(m.scheduled_at), at(m.submitted_at), at(m.done_at), m.text,
    ]  # fmt: skip


@router.get("/app/messages.csv")
def export(
    request: Request,
    viewer: Customer,
    status: Text = "",
    since: Text = "",
    until: Text = "",
    phone: Text = "",
    sending: Text = "",
) -> Response:
    """Every message the filters match, newest first, as CSV (streamed in batches)."""
    flt = Filters(status, since, until, phone, sending).query(viewer)
    rows = _export_rows(runtime(request).db, account_of(viewer), flt, ZoneInfo(viewer.timezone))
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="messages-{stamp}.csv"'},
    )


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    what: str
    detail: str = ""


def _timeline(request: Request, m: Message, parts: list[MessagePart]) -> list[Event]:
    """What happened to the message, oldest first, from its own and its parts' times."""
    _ = gettext_for(request)
    events = [Event(m.created_at, _("Accepted and charged"))]
    if m.scheduled_at is not None:
        events.append(Event(m.scheduled_at, _("Scheduled for")))
    if m.submitted_at is not None:
        events.append(Event(m.submitted_at, _("Submitted to the network"), m.connector or ""))
    for part in parts:
        if part.status != MessageStatus.SUBMITTED:
            what = _("Receipt for part %(no)d") % {"no": part.part_no}
            events.append(Event(part.updated_at, what, part.status))
    if m.done_at is not None:
        final = m.status + (f" ({m.error_code})" if m.error_code else "")
        events.append(Event(m.done_at, _("Final status"), final))
    return sorted(events, key=lambda e: e.at)


@router.get("/app/messages/{message_id}")
def message_page(request: Request, viewer: Customer, message_id: int) -> Response:
    account_id = account_of(viewer)
    with runtime(request).db.read() as session:
        message = queries.get_message(session, account_id, message_id)
        parts = queries.message_parts(session, message.id)
        deliveries = webhooks.list_deliveries(session, account_id, message_id=message.id, limit=20)
    context = {
        "m": message,
        "parts": parts,
        "timeline": _timeline(request, message, parts),
        "deliveries": deliveries,
        "cancellable": message.status in CANCELLABLE,
    }
    return render(request, "app/message.html", context)


@router.post("/app/messages/{message_id}/cancel")
def cancel_message(request: Request, viewer: Customer, message_id: int) -> Response:
    account_id = account_of(viewer)
    with runtime(request).db.write() as session:
        message = queries.get_message(session, account_id, message_id)
        if not cancel_messages(session, account_id, utcnow(), message_id=message_id):
            raise InvalidRequest(
                f"message {message_id} is {message.status} and can no longer be cancelled",
                code="not_cancellable",
            )
    return see_other(f"/app/messages/{message_id}")


@router.get("/app/sendings")
def sendings(
    request: Request, viewer: Customer, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    with runtime(request).db.read() as session:
        rows = queries.list_sendings(session, account_of(viewer), limit=PAGE, before_id=before)
    older = rows[-1].id if len(rows) == PAGE else None
    return render(request, "app/sendings.html", {"rows": rows, "older": older})


@router.get("/app/sendings/{sending_id}")
def sending_page(request: Request, viewer: Customer, sending_id: int, done: str = "") -> Response:
    with runtime(request).db.read() as session:
        sending = queries.get_sending(session, account_of(viewer), sending_id)
        counts = queries.sending_counts(session, sending.id)
    context = {
        "s": sending,
        "counts": counts,
        "statuses": [s.value for s in MessageStatus],
        "cancellable": sending.status not in (SendingStatus.COMPLETED, SendingStatus.CANCELLED),
        "done": done,
    }
    return render(request, "app/sending.html", context)


@router.post("/app/sendings/{sending_id}/cancel")
def cancel(request: Request, viewer: Customer, sending_id: int) -> Response:
    with runtime(request).db.write() as session:
        cancel_sending(session, account_of(viewer), sending_id, utcnow())
    return see_other(f"/app/sendings/{sending_id}?done=cancelled")
