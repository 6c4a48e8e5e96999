"""Status-change events, written to the webhook outbox in the transaction of the change.

``lifecycle.finalize``, ``lifecycle.cancel_messages`` and ``outbox.record_submits`` pass the
rows they already hold (``StatusChange``); ``enqueue`` keeps those with a URL (the message's
``callback_url``, else the account's default) and inserts them with one statement, after at
most one read of the accounts' default URLs. So a committed status change always has its
webhook, and a rolled-back one never does. Acceptance (``queued``/``scheduled``) writes no
event: the first one a message produces is ``submitted`` (or a final status).

Inbound (MO) messages of an account produce a ``message.inbound`` event to the account's
default URL (``enqueue_inbound``, in the transaction that stores them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.kit.fastinsert import FastInsert
from smsgate.messaging.status import MessageStatus
from smsgate.webhooks.models import DeliveryStatus, deliveries_table

EVENT = "message.status"
INBOUND_EVENT = "message.inbound"
S = MessageStatus

# Each seed surface's names for a status; surfaces not listed (native, smsgic) use the
# canonical names. These mirror the surfaces' own tables (``surfaces.devsms.STATUSES``,
# ``surfaces.smsby._transport.SMS_STATUS``), which the core may not import; a test checks
# that they agree.
SURFACE_STATUSES: dict[str, dict[str, str]] = {
    "devsms": {
        S.SCHEDULED: "waiting",
        S.QUEUED: "waiting",
        S.SUBMITTED: "ACCEPTED",
        S.DELIVERED: "DELIVERED",
        S.UNDELIVERABLE: "UNDELIVERABLE",
        S.REJECTED: "REJECTED",
        S.CANCELLED: "REJECTED",
    },
    "smsby": {
        S.SCHEDULED: "NEW",
        S.QUEUED: "NEW",
        S.SUBMITTED: "SENT",
        S.DELIVERED: "DELIVERED",
        S.UNDELIVERABLE: "UNDELIVERED",
        S.REJECTED: "UNDELIVERED",
        S.CANCELLED: "UNDELIVERED",
    },
}

_encoder = msgspec.json.Encoder()
# Built once: this runs for every batch of status changes (dispatch/_sql.py says why).
_DEFAULT_URLS = select(Account.id, Account.webhook_url).where(
    Account.id.in_(bindparam("b_ids", expanding=True)), Account.webhook_url.is_not(None)
)
_insert_deliveries = FastInsert(
    deliveries_table,
    (
        "account_id",
        "message_id",
        "event",
        "url",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "queued_at",
        "created_at",
    ),
)


def surface_status(surface: str, status: str) -> str:
    return SURFACE_STATUSES.get(surface, {}).get(status, status)


@dataclass(frozen=True, slots=True)
class StatusChange:
    message_id: int
    account_id: int
    request_id: str
    surface: str
    msisdn: str
    sending_id: int | None
    callback_url: str | None
    status: str
    error_code: str | None
    created_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None


def payload(change: StatusChange, at: datetime) -> str:
    return _encoder.encode(
        {
            "event": EVENT,
            "message_id": change.message_id,
            "request_id": change.request_id,
            "sending_id": change.sending_id,
            "to": change.msisdn,
            "status": change.status,
            "surface": change.surface,
            "surface_status": surface_status(change.surface, change.status),
            "error_code": change.error_code,
            "occurred_at": at,
            "created_at": change.created_at,
            "submitted_at": change.submitted_at,
            "done_at": change.done_at,
        }
    ).decode()


def enqueue(session: Session, changes: Sequence[StatusChange], now: datetime) -> int:
    """Queue a delivery for every change that has somewhere to go; returns how many."""
    if not changes:
        return 0
    defaults = _default_urls(session, {c.account_id for c in changes if not c.callback_url})
    pending = DeliveryStatus.PENDING.value
    rows = []
    for change in changes:
        url = change.callback_url or defaults.get(change.account_id)
        if url:
            body = payload(change, now)
            row = (
                change.account_id,
                change.message_id,
                EVENT,
                url,
                body,
                pending,
                0,
                now,
                now,
                now,
            )
            rows.append(row)
    _insert_deliveries.execute(session.connection(), rows)
    return len(rows)


def _default_urls(session: Session, account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = session.connection().execute(_DEFAULT_URLS, {"b_ids": sorted(account_ids)})
    return {account_id: url for account_id, url in rows if url}


@dataclass(frozen=True, slots=True)
class InboundEvent:
    inbound_id: int
    account_id: int
    source: str
    destination: str
    text: str
    keyword: str | None  # "opt_out", "opt_in" or None
    received_at: datetime


def inbound_payload(event: InboundEvent) -> str:
    return _encoder.encode(
        {
            "event": INBOUND_EVENT,
            "inbound_id": event.inbound_id,
            "from": event.source,
            "to": event.destination,
            "text": event.text,
            "keyword": event.keyword,
            "received_at": event.received_at,
        }
    ).decode()


def enqueue_inbound(session: Session, events: Sequence[InboundEvent], now: datetime) -> int:
    """Queue a delivery to the account's default URL for each inbound message; how many."""
    if not events:
        return 0
    defaults = _default_urls(session, {e.account_id for e in events})
    rows = [
        {
            "account_id": e.account_id,
            "message_id": None,
            "event": INBOUND_EVENT,
            "url": defaults[e.account_id],
            "payload": inbound_payload(e),
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "queued_at": now,
            "created_at": now,
        }
        for e in events
        if e.account_id in defaults
    ]
    if rows:
        session.execute(insert(deliveries_table), rows)
    return len(rows)
