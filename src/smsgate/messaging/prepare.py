"""Checks that need no database: text, sender, numbers, schedule, callback.

They run in the caller's own task before a send joins a commit batch, so a bad request never
holds up the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from smsgate.errors import InvalidRequest
from smsgate.kit.text import storable
from smsgate.kit.time import in_range
from smsgate.messaging.segments import SegmentCount, count_segments
from smsgate.numbering import Destination, Destinations, resolve_many
from smsgate.senders.names import check_sender
from smsgate.webhooks.ssrf import literal_refusal

ROUTE_TYPES = frozenset({"default", "infobip", "twilio", "messente", "trumpia"})


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    key: str
    request_hash: str
    # Renders the surface's answer for the accepted send, stored with the key in the same
    # transaction so a retry gets exactly the first answer.
    render: Callable[[Accepted], bytes]


@dataclass(slots=True)
class SendRequest:
    account_id: int
    recipients: list[str]
    text: str
    sender: str
    scheduled_at: datetime | None = None
    callback_url: str | None = None
    surface: str = "native"
    requested_type: str = "default"
    as_sending: bool = False
    want_messages: bool = True
    idempotency: IdempotencyClaim | None = None


@dataclass(slots=True)
class PreparedSend:
    request: SendRequest
    # A sending's (as_sending) are ``Destinations``, stored compactly, which acceptance
    # prices and writes by place; a single send's a plain list.
    destinations: Sequence[Destination]
    segments: SegmentCount


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    id: int
    request_id: str
    msisdn: str
    destination: str
    parts: int
    price: Decimal
    status: str


@dataclass(slots=True)
class Accepted:
    sending_id: int | None
    count: int
    parts: int
    total: Decimal
    balance_after: Decimal
    status: str
    created_at: datetime
    messages: list[AcceptedMessage] = field(default_factory=list)


def check_callback_url(url: str | None, *, allow_private: bool = False) -> str | None:
    if url is None or url == "":
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: "http://[::1"
        parts = None
    if (
        parts is None
        or not storable(url)
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > 2000
    ):
        raise InvalidRequest(
            f"callback_url {url[:100]!r} is not an http(s) URL",
            field="callback_url",
            code="invalid_callback_url",
        )
    # Literal addresses only: no DNS on this path. Names are checked when the webhook
    # connects (smsgate.webhooks.ssrf).
    refused = None if allow_private else literal_refusal(parts.hostname)
    if refused is not None:
        raise InvalidRequest(
            f"callback_url points to a {refused}; callbacks only go to public addresses",
            field="callback_url",
            code="callback_url_not_public",
        )
    return url


def resolve_all(recipients: list[str], max_recipients: int) -> list[Destination]:
    return list(resolve_recipients(recipients, max_recipients))


def resolve_recipients(recipients: list[str], max_recipients: int) -> Destinations:
    if not recipients:
        raise InvalidRequest(
            "at least one recipient is required", field="to", code="recipients_required"
        )
    if len(recipients) > max_recipients:
        raise InvalidRequest(
            f"at most {max_recipients} recipients per request",
            field="to",
            code="too_many_recipients",
        )
    destinations, bad = resolve_many(recipients)
    if bad:
        shown = ", ".join(repr(b[:30]) for b in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise InvalidRequest(
            f"not valid phone numbers: {shown}{more}", field="to", code="invalid_number"
        )
    return destinations


def prepare(
    request: SendRequest,
    *,
    max_parts: int,
    max_recipients: int,
    allow_private_callbacks: bool = False,
) -> PreparedSend:
    if not request.text:
        raise InvalidRequest("the message text is empty", field="text", code="text_required")
    if not storable(request.text):
        raise InvalidRequest(
            "the text holds a NUL character or a lone surrogate; send valid Unicode text",
            field="text",
            code="invalid_text",
        )
    segments = count_segments(request.text)
    if segments.parts > max_parts:
        raise InvalidRequest(
            f"the text needs {segments.parts} SMS parts; at most {max_parts} are allowed",
            field="text",
            code="too_many_parts",
        )
    request.sender = check_sender(request.sender)
    request.callback_url = check_callback_url(
        request.callback_url, allow_private=allow_private_callbacks
    )
    if request.requested_type not in ROUTE_TYPES:
        raise InvalidRequest(
            f"type must be one of {', '.join(sorted(ROUTE_TYPES))}",
            field="type",
            code="invalid_type",
        )
    if request.scheduled_at is not None and request.scheduled_at.tzinfo is None:
        raise InvalidRequest("scheduled_at needs a time zone", field="scheduled_at")
    if request.scheduled_at is not None and not in_range(request.scheduled_at):
        raise InvalidRequest(
            "scheduled_at must lie between the years 1900 and 9000", field="scheduled_at"
        )
    if request.as_sending:
        destinations: Sequence[Destination] = resolve_recipients(request.recipients, max_recipients)
    else:
        destinations = resolve_all(request.recipients, max_recipients)
    return PreparedSend(request, destinations, segments)
