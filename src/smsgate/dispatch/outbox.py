"""The durable outbox: claiming due messages and recording what the upstream said.

Claims take a batch of due messages under a lease (``lease_owner``, ``lease_until``). On
PostgreSQL the inner SELECT uses ``FOR UPDATE SKIP LOCKED`` so several dispatchers never
claim the same row; on SQLite the write transaction holds the database lock, which makes
the claimer single by construction. A dispatcher that dies leaves its lease to expire and
its messages are claimed again: delivery is at least once, and the window for a duplicate
is the time between the upstream's acceptance and the commit of ``record_submits``.
Every write after a claim is fenced by ``lease_owner`` so a dispatcher whose lease was
taken over cannot overwrite the new owner's work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.dispatch import _sql as sql
from smsgate.dispatch.models import EarlyReceipt
from smsgate.dispatch.retry import RetryPolicy
from smsgate.kit.chunks import batched
from smsgate.kit.fastinsert import FastInsert
from smsgate.kit.money import round_money
from smsgate.messaging.lifecycle import finalize
from smsgate.messaging.models import Message, MessagePart, parts_table
from smsgate.messaging.status import FINAL, MessageStatus
from smsgate.pricing.models import ConnectorCostPlan
from smsgate.pricing.service import rate_books
from smsgate.webhooks import events as webhook_events

DUE = sql.DUE
_SLICE = 500  # keys per IN list
_insert_parts = FastInsert(
    parts_table, ("message_id", "part_no", "connector", "upstream_id", "status", "updated_at")
)
_insert_early = FastInsert(
    sql.early, ("connector", "upstream_id", "status", "error_code", "received_at")
)
_COST_PLAN = select(ConnectorCostPlan.plan_id).where(
    ConnectorCostPlan.connector == bindparam("b_connector")
)


@dataclass(frozen=True, slots=True)
class Claimed:
    message: OutboundMessage
    sending_id: int | None
    created_at: datetime
    attempts: int
    valid_until: datetime
    mcc: str | None = None
    mnc: str | None = None
    account_id: int = 0
    country: str = ""
    requested_type: str = "default"
    # for the ``submitted`` webhook (webhooks.events)
    request_id: str = ""
    surface: str = "native"
    callback_url: str | None = None


def claim(
    session: Session, owner: str, limit: int, now: datetime, lease: timedelta
) -> list[Claimed]:
    conn = session.connection()
    rows = conn.execute(
        sql.CLAIM_PG if conn.dialect.name == "postgresql" else sql.CLAIM,
        {"b_now": now, "b_limit": limit, "b_owner": owner, "b_until": now + lease},
    ).all()
    sendings = {r[6] for r in rows if r[6] is not None}
    if sendings:
        conn.execute(sql.SENDINGS_PROCESSING, {"b_ids": sorted(sendings), "b_now": now})
    return [
        Claimed(OutboundMessage(i, m, s, t, p, e), sid, c, a, v, mcc, mnc, acc, cc, rt, rid, sf, cb)
        for i, m, s, t, p, e, sid, c, a, v, mcc, mnc, acc, cc, rt, rid, sf, cb in rows
    ]


def release(
    session: Session, owner: str, ids: Sequence[int], retry_at: datetime | None = None
) -> None:
    """Give back claimed messages that were not submitted (on a graceful stop, or when no
    connector can take them now: they wait until ``retry_at`` and expire at their validity)."""
    if not ids:
        return
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
        # the claim counted an attempt that never happened: backoff must not grow from it
        values["attempts"] = Message.attempts - 1
    session.execute(
        update(Message)
        .where(
            Message.id.in_(ids),
            Message.lease_owner == owner,
            Message.status == MessageStatus.QUEUED,
        )
        .values(**values),
        execution_options={"synchronize_session": False},
    )


def renew_claims(session: Session, owner: str, ids: Sequence[int], until: datetime) -> int:
    """Extend the lease of claimed messages this owner still holds and has not recorded yet
    (the claim-lease heartbeat), so that no other dispatcher claims a message whose submit
    is still under way. A message already recorded or taken over is left alone."""
    if not ids:
        return 0
    result = session.execute(
        update(Message)
        .where(
            Message.id.in_(ids),
            Message.lease_owner == owner,
            Message.status == MessageStatus.QUEUED,
        )
        .values(lease_until=until),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def expire_unsent(session: Session, now: datetime, limit: int = 5000) -> int:
    """Messages that could not leave within their validity end undeliverable, refunded."""
    ids = session.scalars(
        select(Message.id)
        .where(
            Message.status.in_(DUE),
            Message.valid_until < now,
            or_(Message.lease_until.is_(None), Message.lease_until < now),
        )
        .limit(limit)
    ).all()
    return finalize(
        session, [(i, MessageStatus.UNDELIVERABLE, "expired") for i in ids], now, force_refund=True
    )


def expire_unconfirmed(session: Session, now: datetime, grace: timedelta, limit: int = 5000) -> int:
    """Submitted messages whose receipt never came end undeliverable (as an SMSC's EXPIRED)."""
    ids = session.scalars(
        select(Message.id)
        .where(Message.status == MessageStatus.SUBMITTED, Message.valid_until < now - grace)
        .limit(limit)
    ).all()
    return finalize(session, [(i, MessageStatus.UNDELIVERABLE, "no_receipt") for i in ids], now)


def record_submits(
    session: Session,
    owner: str,
    connector: str,
    claimed: Sequence[Claimed],
    results: Sequence[SubmitResult],
    now: datetime,
    retry: RetryPolicy,
) -> None:
    conn = session.connection()
    attempts = {c.message.id: c.attempts for c in claimed}
    submitted = [r for r in results if r.outcome is Outcome.SUBMITTED]
    transient = [r for r in results if r.outcome is Outcome.TRANSIENT]
    permanent = [r for r in results if r.outcome is Outcome.PERMANENT]
    if submitted:
        # One statement for the whole batch; RETURNING names the rows this dispatcher still
        # owned, and only those get parts (a taken-over lease writes nothing).
        owned = set(
            conn.execute(
                sql.MARK_SUBMITTED,
                {
                    "b_ids": [r.message_id for r in submitted],
                    "b_owner": owner,
                    "b_connector": connector,
                    "b_now": now,
                },
            ).scalars()
        )
        mine = [r for r in submitted if r.message_id in owned]
        sent = [c for c in claimed if c.message.id in owned]
        _record_cost(session, connector, sent)
        webhook_events.enqueue(session, [_submitted(c, now) for c in sent], now)
        parts = [
            (r.message_id, n, connector, uid, MessageStatus.SUBMITTED.value, now)
            for r in mine
            for n, uid in enumerate(r.upstream_ids, 1)
        ]
        if parts:
            _insert_parts.execute(conn, parts)
            _apply_early(session, connector, [uid for r in mine for uid in r.upstream_ids], now)
    if transient:
        conn.execute(
            sql.RETRY_LATER,
            [
                {
                    "b_id": r.message_id,
                    "b_owner": owner,
                    "b_next": now + retry.delay(attempts.get(r.message_id, 1)),
                    "b_error": r.error_code,
                    "b_now": now,
                }
                for r in transient
            ],
        )
    if permanent:
        still_mine = set(
            conn.execute(
                sql.STILL_MINE, {"b_ids": [r.message_id for r in permanent], "b_owner": owner}
            ).scalars()
        )
        permanent = [r for r in permanent if r.message_id in still_mine]
        finalize(
            session,
            [(r.message_id, MessageStatus.REJECTED, r.error_code or "rejected") for r in permanent],
            now,
        )


def _submitted(c: Claimed, now: datetime) -> webhook_events.StatusChange:
    return webhook_events.StatusChange(
        message_id=c.message.id,
        account_id=c.account_id,
        request_id=c.request_id,
        surface=c.surface,
        msisdn=c.message.msisdn,
        sending_id=c.sending_id,
        callback_url=c.callback_url,
        status=MessageStatus.SUBMITTED,
        error_code=None,
        created_at=c.created_at,
        submitted_at=now,
        done_at=None,
    )


def _record_cost(session: Session, connector: str, sent: Sequence[Claimed]) -> None:
    """Cost = parts x the connector's cost-plan rate (no tax), recorded beside the price."""
    if not sent:
        return
    conn = session.connection()
    plan_id = conn.execute(_COST_PLAN, {"b_connector": connector}).scalar()
    if plan_id is None:
        return
    book = rate_books.get(session, [plan_id]).get(plan_id)
    costs = []
    for c in sent:
        rate = book.rate(c.mcc, c.mnc) if book else None
        if rate is not None:
            costs.append({"b_id": c.message.id, "b_cost": round_money(rate * c.message.parts)})
    if costs:
        conn.execute(sql.SET_COST, costs)


def _early_receipts(rows: Sequence[Any]) -> list[Receipt]:
    return [Receipt(c, u, MessageStatus(s), e, at) for _, c, u, s, e, at in rows]


def _apply_early(session: Session, connector: str, upstream_ids: list[str], now: datetime) -> None:
    conn = session.connection()
    found = [
        row
        for chunk in batched(upstream_ids, _SLICE)
        for row in conn.execute(sql.EARLY_FOR, {"b_connector": connector, "b_uids": list(chunk)})
    ]
    if found:
        apply_receipts(session, _early_receipts(found), now, keep_unmatched=False)
        for chunk in batched([row[0] for row in found], _SLICE):
            conn.execute(sql.DELETE_EARLY, {"b_ids": list(chunk)})


def forget_early(session: Session, before: datetime) -> int:
    """Drop parked receipts that never matched a part (a foreign or garbled id)."""
    result = session.execute(delete(EarlyReceipt).where(EarlyReceipt.received_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


def reapply_early(session: Session, now: datetime, limit: int = 5000) -> int:
    """Apply parked receipts whose parts are now recorded.

    On PostgreSQL a receipt and its submit can commit concurrently, each unable to see the
    other's rows: the receipt is parked because its part is not visible yet, and the submit
    finds no parked receipt because that is not visible yet either. This catches them up.
    """
    conn = session.connection()
    found = conn.execute(sql.EARLY_MATCHED, {"b_limit": limit}).all()
    if not found:
        return 0
    apply_receipts(session, _early_receipts(found), now, keep_unmatched=False)
    for chunk in batched([row[0] for row in found], _SLICE):
        conn.execute(sql.DELETE_EARLY, {"b_ids": list(chunk)})
    return len(found)


def message_status_from_parts(statuses: Sequence[str]) -> MessageStatus | None:
    """A message is final when all its parts are: delivered if every part was, otherwise
    undeliverable if any part was, otherwise rejected."""
    if not statuses or any(s not in FINAL for s in statuses):
        return None
    if all(s == MessageStatus.DELIVERED for s in statuses):
        return MessageStatus.DELIVERED
    if any(s == MessageStatus.UNDELIVERABLE for s in statuses):
        return MessageStatus.UNDELIVERABLE
    return MessageStatus.REJECTED


def apply_receipts(
    session: Session,
    receipts: Sequence[Receipt],
    now: datetime,
    *,
    keep_unmatched: bool = True,
) -> int:
    """Apply receipts to parts, then finalise messages whose parts are all final."""
    conn = session.connection()
    keys = {(r.connector, r.upstream_id): r for r in receipts}
    by_connector: dict[str, list[str]] = defaultdict(list)
    for connector, upstream_id in keys:
        by_connector[connector].append(upstream_id)
    # In slices: a backlog of tens of thousands of receipts in one IN list overflows
    # PostgreSQL's parser stack and its 65,535 parameters (found by the benchmark).
    found = [
        (mid, no, connector, uid)
        for connector, uids in by_connector.items()
        for chunk in batched(uids, _SLICE)
        for mid, no, uid in conn.execute(
            sql.PARTS_BY_UPSTREAM, {"b_connector": connector, "b_uids": list(chunk)}
        )
    ]
    if keep_unmatched:
        matched = {(c, u) for _, _, c, u in found}
        orphans = [r for k, r in keys.items() if k not in matched]
        if orphans:
            _insert_early.execute(
                conn,
                [(r.connector, r.upstream_id, r.status.value, r.error_code, r.at) for r in orphans],
            )
    if not found:
        return 0
    conn.execute(
        sql.APPLY_TO_PART,
        [
            {
                "b_mid": m,
                "b_no": n,
                "b_status": keys[(c, u)].status.value,
                "b_error": keys[(c, u)].error_code,
                "b_now": now,
            }
            for m, n, c, u in found
        ],
    )
    statuses: dict[int, list[str]] = defaultdict(list)
    errors: dict[int, str | None] = {}
    for chunk in batched(sorted({m for m, _, _, _ in found}), _SLICE):
        for mid, status, error in conn.execute(sql.PART_STATUSES, {"b_ids": list(chunk)}):
            statuses[mid].append(status)
            errors[mid] = errors.get(mid) or error
    changes = []
    for mid, part_statuses in statuses.items():
        final = message_status_from_parts(part_statuses)
        if final is not None:
            changes.append((mid, final, errors.get(mid)))
    return finalize(session, changes, now)


def unconfirmed_parts(session: Session, connector: str) -> list[tuple[str, str]]:
    """(upstream id, number) of every part still waiting for its receipt from ``connector``."""
    rows = session.execute(
        select(MessagePart.upstream_id, Message.msisdn)
        .join(Message, Message.id == MessagePart.message_id)
        .where(MessagePart.connector == connector, MessagePart.status == MessageStatus.SUBMITTED)
    ).all()
    return [(upstream_id, msisdn) for upstream_id, msisdn in rows]
