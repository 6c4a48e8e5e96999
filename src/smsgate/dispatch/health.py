"""Health of connectors: live state from this process's pool, activity from the database.

Live state (``live_health``) is what the running connector says about itself: an SMPP
connector's binds, window use and last error (``health()``), an HTTP provider's
``healthy`` and ``last_error``, and nothing more for the simulator. It exists only in the
process whose dispatcher runs the connector.

Activity (``recent_activity``) is counted from the messages table, so it is the same in
every process and across restarts: per connector, the messages submitted and the messages
rejected at submit (permanent upstream errors) in the last ``window`` seconds, with one
grouped query. ``error_rate`` is rejected / (submitted + rejected). Transient errors that
were retried are not counted: they leave no row behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from smsgate.connectors.base import Connector
from smsgate.kit.time import utcnow
from smsgate.messaging.models import Message
from smsgate.messaging.status import MessageStatus

ACTIVITY_WINDOW = 60  # seconds


@dataclass(frozen=True, slots=True)
class Activity:
    submitted: int = 0
    rejected: int = 0
    delivered: int = 0
    undeliverable: int = 0
    window: int = ACTIVITY_WINDOW

    @property
    def throughput(self) -> float:
        """Messages submitted per second over the window."""
        return round(self.submitted / self.window, 3)

    @property
    def error_rate(self) -> float:
        attempts = self.submitted + self.rejected
        return round(self.rejected / attempts, 4) if attempts else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window,
            "submitted": self.submitted,
            "rejected": self.rejected,
            "delivered": self.delivered,
            "undeliverable": self.undeliverable,
            "throughput": self.throughput,
            "error_rate": self.error_rate,
        }


def recent_activity(session: Session, window: int = ACTIVITY_WINDOW) -> dict[str, Activity]:
    """Per connector, what happened to its messages in the last ``window`` seconds."""
    since = utcnow() - timedelta(seconds=window)

    def within(column: Any, status: MessageStatus | None = None) -> Any:
        condition = column >= since
        if status is not None:
            condition = condition & (Message.status == status)
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = session.execute(
        select(
            Message.connector,
            within(Message.submitted_at),
            within(Message.done_at, MessageStatus.REJECTED),
            within(Message.done_at, MessageStatus.DELIVERED),
            within(Message.done_at, MessageStatus.UNDELIVERABLE),
        )
        .where(Message.connector.is_not(None), Message.updated_at >= since)
        .group_by(Message.connector)
    ).all()
    return {
        str(name): Activity(int(sub), int(rej), int(dlv), int(und), window)
        for name, sub, rej, dlv, und in rows
    }


def live_health(connector: Connector) -> dict[str, Any]:
    """What a running connector says about itself; always has ``healthy``."""
    report = getattr(connector, "health", None)
    found: dict[str, Any] = dict(report()) if callable(report) else {}
    found["healthy"] = bool(getattr(connector, "healthy", True))
    if "last_error" not in found and hasattr(connector, "last_error"):
        found["last_error"] = connector.last_error
    return found


def window_use(health: dict[str, Any]) -> float | None:
    """The share of the window in flight (0..1), when the connector has a window."""
    window, in_flight = health.get("window"), health.get("in_flight")
    if not isinstance(window, int) or not isinstance(in_flight, int) or window <= 0:
        return None
    return round(in_flight / window, 4)
