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

from sqlalchemy import bindparam, delete, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account, AccountStatus
from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.dispatch.models import EarlyReceipt
from smsgate.dispatch.retry import RetryPolicy
from smsgate.kit.chunks import batched
from smsgate.kit.money import round_money
from smsgate.messaging.lifecycle import finalize
from smsgate.messaging.models import Message, MessagePart, Sending, messages_table, parts_table
from smsgate.messaging.status import FINAL, MessageStatus, SendingStatus
from smsgate.pricing.models import ConnectorCostPlan
from smsgate.pricing.service import rate_books
from smsgate.webhooks import events as webhook_events

DUE = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
_messages = messages_table
_parts = parts_table


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
    due = (
        select(Message.id)
        .where(
            Message.next_attempt_at <= now,
            Message.status.in_(DUE),
            Message.valid_until >= now,
            or_(Message.lease_until.is_(None), Message.lease_until < now),
            # a suspended account's messages wait (and expire if it stays suspended)
            Message.account_id.notin_(
                select(Account.id).where(Account.status == AccountStatus.SUSPENDED)
            ),
        )
        .order_by(Message.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(Message)
        .where(Message.id.in_(due))
        .values(
            status=MessageStatus.QUEUED,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=Message.attempts + 1,
            updated_at=now,
        )
        .returning(
            Message.id,
            Message.msisdn,
            Message.sender,
            Message.text,
            Message.parts,
            Message.encoding,
            Message.sending_id,
            Message.created_at,
            Message.attempts,
            Message.valid_until,
            Message.mcc,
            Message.mnc,
            Message.account_id,
            Message.country,
            Message.requested_type,
            Message.request_id,
            Message.surface,
            Message.callback_url,
        ),
        execution_options={"synchronize_session": False},
    ).all()
    sendings = {r[6] for r in rows if r[6] is not None}
    if sendings:
        session.execute(
            update(Sending)
            .where(
                Sending.id.in_(sendings),
                Sending.status.in_([SendingStatus.SCHEDULED, SendingStatus.QUEUED]),
            )
            .values(status=SendingStatus.PROCESSING, updated_at=now),
            execution_options={"synchronize_session": False},
        )
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
    attempts = {c.message.id: c.attempts for c in claimed}
    submitted = [r for r in results if r.outcome is Outcome.SUBMITTED]
    transient = [r for r in results if r.outcome is Outcome.TRANSIENT]
    permanent = [r for r in results if r.outcome is Outcome.PERMANENT]
    if submitted:
        # One statement for the whole batch; RETURNING names the rows this dispatcher still
        # owned, and only those get parts (a taken-over lease writes nothing).
        owned = set(
            session.execute(
                update(_messages)
                .where(
                    _messages.c.id.in_([r.message_id for r in submitted]),
                    _messages.c.lease_owner == owner,
                    _messages.c.status == MessageStatus.QUEUED,
                )
                .values(
                    status=MessageStatus.SUBMITTED,
                    connector=connector,
                    submitted_at=now,
                    updated_at=now,
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_until=None,
                )
                .returning(_messages.c.id)
            ).scalars()
        )
        mine = [r for r in submitted if r.message_id in owned]
        sent = [c for c in claimed if c.message.id in owned]
        _record_cost(session, connector, sent)
        webhook_events.enqueue(session, [_submitted(c, now) for c in sent], now)
        parts = [
            {
                "message_id": r.message_id,
                "part_no": n,
                "connector": connector,
                "upstream_id": uid,
                "status": MessageStatus.SUBMITTED,
                "updated_at": now,
            }
            for r in mine
            for n, uid in enumerate(r.upstream_ids, 1)
        ]
        if parts:
            session.execute(insert(_parts), parts)
            _apply_early(session, connector, [uid for r in mine for uid in r.upstream_ids], now)
    if transient:
        session.execute(
            update(_messages)
            .where(_messages.c.id == bindparam("b_id"), _messages.c.lease_owner == owner)
            .values(
                next_attempt_at=bindparam("b_next"),
                error_code=bindparam("b_error"),
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            ),
            [
                {
                    "b_id": r.message_id,
                    "b_next": now + retry.delay(attempts.get(r.message_id, 1)),
                    "b_error": r.error_code,
                }
                for r in transient
            ],
        )
    if permanent:
        still_mine = set(
            session.scalars(
                select(Message.id).where(
                    Message.id.in_([r.message_id for r in permanent]), Message.lease_owner == owner
                )
            )
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
    plan_id = session.scalar(
        select(ConnectorCostPlan.plan_id).where(ConnectorCostPlan.connector == connector)
    )
    if plan_id is None or not sent:
        return
    book = rate_books.get(session, [plan_id]).get(plan_id)
    costs = []
    for c in sent:
        rate = book.rate(c.mcc, c.mnc) if book else None
        if rate is not None:
            costs.append({"b_id": c.message.id, "b_cost": round_money(rate * c.message.parts)})
    if costs:
        session.execute(
            update(_messages)
            .where(_messages.c.id == bindparam("b_id"))
            .values(cost=bindparam("b_cost")),
            costs,
        )


def _apply_early(session: Session, connector: str, upstream_ids: list[str], now: datetime) -> None:
    early = session.scalars(
        select(EarlyReceipt).where(
            EarlyReceipt.connector == connector, EarlyReceipt.upstream_id.in_(upstream_ids)
        )
    ).all()
    if early:
        apply_receipts(
            session,
            [
                Receipt(
                    e.connector, e.upstream_id, MessageStatus(e.status), e.error_code, e.received_at
                )
                for e in early
            ],
            now,
            keep_unmatched=False,
        )
        session.execute(delete(EarlyReceipt).where(EarlyReceipt.id.in_([e.id for e in early])))


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
    early = (
        session.execute(
            select(EarlyReceipt)
            .join(
                MessagePart,
                (MessagePart.connector == EarlyReceipt.connector)
                & (MessagePart.upstream_id == EarlyReceipt.upstream_id),
            )
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not early:
        return 0
    apply_receipts(
        session,
        [
            Receipt(
                e.connector, e.upstream_id, MessageStatus(e.status), e.error_code, e.received_at
            )
            for e in early
        ],
        now,
        keep_unmatched=False,
    )
    session.execute(delete(EarlyReceipt).where(EarlyReceipt.id.in_([e.id for e in early])))
    return len(early)


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


_SLICE = 500  # keys per IN list


def apply_receipts(
    session: Session,
    receipts: Sequence[Receipt],
    now: datetime,
    *,
    keep_unmatched: bool = True,
) -> int:
    """Apply receipts to parts, then finalise messages whose parts are all final."""
    keys = {(r.connector, r.upstream_id): r for r in receipts}
    # In slices: a backlog of tens of thousands of receipts in one IN list overflows
    # PostgreSQL's parser stack and its 65,535 parameters (found by the benchmark).
    found = [
        row
        for chunk in batched(keys, _SLICE)
        for row in session.execute(
            select(
                MessagePart.message_id,
                MessagePart.part_no,
                MessagePart.connector,
                MessagePart.upstream_id,
            ).where(tuple_(MessagePart.connector, MessagePart.upstream_id).in_(chunk))
        )
    ]
    matched = {(c, u) for _, _, c, u in found}
    if keep_unmatched:
        orphans = [r for k, r in keys.items() if k not in matched]
        if orphans:
            session.execute(
                insert(EarlyReceipt),
                [
                    {
                        "connector": r.connector,
                        "upstream_id": r.upstream_id,
                        "status": r.status,
                        "error_code": r.error_code,
                        "received_at": r.at,
                    }
                    for r in orphans
                ],
            )
    if not found:
        return 0
    session.execute(
        update(_parts)
        .where(
            _parts.c.message_id == bindparam("b_mid"),
            _parts.c.part_no == bindparam("b_no"),
            _parts.c.status == MessageStatus.SUBMITTED,
        )  # a duplicate receipt changes nothing
        .values(status=bindparam("b_status"), error_code=bindparam("b_error"), updated_at=now),
        [
            {
                "b_mid": m,
                "b_no": n,
                "b_status": keys[(c, u)].status,
                "b_error": keys[(c, u)].error_code,
            }
            for m, n, c, u in found
        ],
    )
    message_ids = {m for m, _, _, _ in found}
    statuses: dict[int, list[str]] = defaultdict(list)
    errors: dict[int, str | None] = {}
    rows = (
        row
        for chunk in batched(sorted(message_ids), _SLICE)
        for row in session.execute(
            select(MessagePart.message_id, MessagePart.status, MessagePart.error_code).where(
                MessagePart.message_id.in_(chunk)
            )
        )
    )
    for mid, status, error in rows:
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
