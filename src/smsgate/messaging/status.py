"""Message and sending statuses, and the only transitions a message may make.

    scheduled ──► queued ──► submitted ──► delivered
        │           │  ▲          ├──────► undeliverable
        │           │  └ retry    └──────► rejected
        │           ├──► rejected / undeliverable (validity expired) / cancelled
        └──────────►┴──► cancelled / rejected / undeliverable

Final statuses never change again, so a late or duplicate receipt cannot move a message back.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class SendingStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


S = MessageStatus
TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED, S.REJECTED, S.UNDELIVERABLE}),
    S.QUEUED: frozenset({S.QUEUED, S.SUBMITTED, S.REJECTED, S.UNDELIVERABLE, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.DELIVERED, S.UNDELIVERABLE, S.REJECTED}),
    S.DELIVERED: frozenset(),
    S.UNDELIVERABLE: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL: frozenset[MessageStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
PENDING: frozenset[MessageStatus] = frozenset(S) - FINAL
# Money goes back for these whatever the refund policy says: the message never reached anyone.
ALWAYS_REFUNDED: frozenset[MessageStatus] = frozenset({S.REJECTED, S.CANCELLED})


def can_transition(current: MessageStatus, new: MessageStatus) -> bool:
    return new in TRANSITIONS[current]


def sources_of(new: MessageStatus) -> frozenset[MessageStatus]:
    """Every status from which ``new`` may be reached (for guarded bulk UPDATEs)."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if new in nxt)
