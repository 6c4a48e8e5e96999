"""The worker's database side: claim due deliveries under a lease, record what happened.

Claiming follows ``dispatch.outbox.claim``: on PostgreSQL the inner SELECT takes the rows
``FOR UPDATE SKIP LOCKED``, so two workers never claim one delivery; on SQLite the write
transaction holds the database lock. The lease is ``next_attempt_at`` itself, pushed to the
end of the lease: a worker that dies mid-request leaves the delivery to become due again
when its lease ends (at least once: the receiver may see it twice, with one delivery id).
Results are written only where ``lease_owner`` is still the claimer, so a worker whose lease
ran out, or whose delivery was replayed meanwhile, cannot overwrite the newer state; its
attempt is still logged, since it did happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.db import UTCDateTime
from smsgate.dispatch.retry import RetryPolicy
from smsgate.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    attempts_table,
    deliveries_table,
)
from smsgate.webhooks.signing import new_secret

D = WebhookDelivery
_accounts = cast(Table, Account.__table__)


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    account_id: int
    event: str
    url: str
    payload: str
    attempts: int
    queued_at: datetime
    secret: str


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery: Due
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False  # never retried (e.g. the address is refused)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def any_due(session: Session, now: datetime) -> bool:
    """A cheap read first, so an idle worker never takes SQLite's write lock."""
    return bool(
        session.scalar(
            select(exists().where(D.status == DeliveryStatus.PENDING, D.next_attempt_at <= now))
        )
    )


def claim(session: Session, owner: str, limit: int, now: datetime, lease: timedelta) -> list[Due]:
    due = (
        select(D.id)
        .where(D.status == DeliveryStatus.PENDING, D.next_attempt_at <= now)
        .order_by(D.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(D)
        .where(D.id.in_(due))
        .values(next_attempt_at=now + lease, lease_owner=owner)
        .returning(D.id, D.account_id, D.event, D.url, D.payload, D.attempts, D.queued_at),
        execution_options={"synchronize_session": False},
    ).all()
    if not rows:
        return []
    keys = account_secrets(session, {r.account_id for r in rows})
    return [
        Due(
            r.id,
            r.account_id,
            r.event,
            r.url,
            r.payload,
            r.attempts,
            r.queued_at,
            keys[r.account_id],
        )
        for r in rows
    ]


def account_secrets(session: Session, account_ids: set[int]) -> dict[int, str]:
    """Each account's signing secret; an account that has none gets one now.

    The customer sees a secret only when it is made through the API, so deliveries signed
    with one made here can be checked only after a rotation (docs/webhooks.md says so).
    """

    def read(ids: Iterable[int]) -> dict[int, str | None]:
        query = select(Account.id, Account.webhook_secret).where(Account.id.in_(list(ids)))
        return dict(session.execute(query).all())

    found = read(account_ids)
    missing = sorted(a for a, secret in found.items() if not secret)
    if missing:
        # "IS NULL" keeps a secret that a racing rotation or worker has just written.
        session.execute(
            update(_accounts)
            .where(_accounts.c.id == bindparam("b_id"), _accounts.c.webhook_secret.is_(None))
            .values(webhook_secret=bindparam("b_secret")),
            [{"b_id": a, "b_secret": new_secret()} for a in missing],
        )
        found.update(read(missing))
    return {a: secret for a, secret in found.items() if secret}


def record(
    session: Session,
    owner: str,
    attempts: Sequence[Attempt],
    retry: RetryPolicy,
    retry_for: timedelta,
) -> dict[DeliveryStatus, int]:
    """Log every attempt and move each delivery on: delivered on a 2xx, else retried after
    ``retry.delay(n)`` unless that falls past ``queued_at + retry_for`` (then failed)."""
    if not attempts:
        return {}
    session.execute(
        insert(attempts_table),
        [
            {
                "delivery_id": a.delivery.id,
                "at": a.at,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    )
    counts = dict.fromkeys(DeliveryStatus, 0)
    updates = []
    for a in attempts:
        n = a.delivery.attempts + 1
        status, next_at = DeliveryStatus.DELIVERED, None
        if not a.ok:
            next_at = a.at + retry.delay(n)
            status = DeliveryStatus.PENDING
            if a.permanent or next_at > a.delivery.queued_at + retry_for:
                status, next_at = DeliveryStatus.FAILED, None
        counts[status] += 1
        updates.append(
            {
                "b_id": a.delivery.id,
                "b_status": status,
                "b_attempts": n,
                "b_next": next_at,
                "b_code": a.status_code,
                "b_error": a.error,
                "b_delivered": a.at if a.ok else None,
            }
        )
    table = deliveries_table
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == owner)
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            delivered_at=func.coalesce(
                bindparam("b_delivered", type_=UTCDateTime()), table.c.delivered_at
            ),
            lease_owner=None,
        ),
        updates,
    )
    return counts
