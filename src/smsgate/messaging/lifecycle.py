"""Status changes after acceptance: cancellation, finalisation and the refunds they cause.

A message only ever moves from a pending status to a final one here: cancellation is a
guarded ``UPDATE ... RETURNING`` (only scheduled/queued rows outside a live lease), and
finalisation first locks the still-pending rows (``FOR UPDATE``; SQLite holds the database
lock), so two writers racing on one message cannot move it backwards or refund it twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.billing.models import Balance, BalanceKind, EntryType, LedgerEntry
from smsgate.errors import InvalidRequest
from smsgate.kit.chunks import batched
from smsgate.messaging.models import Message, Sending, messages_table
from smsgate.messaging.queries import get_sending
from smsgate.messaging.status import (
    ALWAYS_REFUNDED,
    PENDING,
    MessageStatus,
    SendingStatus,
)
from smsgate.pricing.models import PricePlan
from smsgate.webhooks import events as webhook_events

CANCELLABLE = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)


@dataclass(frozen=True, slots=True)
class Refund:
    account_id: int
    message_id: int
    amount: Decimal


def refund(session: Session, refunds: Iterable[Refund], reason: str, now: datetime) -> None:
    """One ledger entry and one balance update per account for a whole group of refunds."""
    by_account: dict[int, list[Refund]] = defaultdict(list)
    for item in refunds:
        by_account[item.account_id].append(item)
    for account_id in sorted(by_account):
        items = by_account[account_id]
        total = sum((r.amount for r in items), Decimal(0))
        session.execute(
            update(Message)
            .where(Message.id.in_([r.message_id for r in items]))
            .values(refunded=True)
        )
        if not total:
            continue
        after = session.execute(
            update(Balance)
            .where(Balance.account_id == account_id, Balance.kind == BalanceKind.SMS)
            .values(amount=Balance.amount + total, updated_at=now)
            .returning(Balance.amount)
        ).scalar_one()
        reference = (
            f"message:{items[0].message_id}" if len(items) == 1 else f"messages:{len(items)}"
        )
        session.add(
            LedgerEntry(
                account_id=account_id,
                kind=BalanceKind.SMS,
                entry_type=EntryType.REFUND,
                amount=total,
                balance_after=after,
                reference=reference,
                description=f"refund of {len(items)} {reason} message(s)",
                created_at=now,
            )
        )


# What a webhook needs beyond the columns a status change already reads (webhooks.events).
_EVENT_COLUMNS = (
    Message.request_id,
    Message.surface,
    Message.msisdn,
    Message.callback_url,
    Message.created_at,
    Message.submitted_at,
)

_SLICE = 500  # ids per IN list

# Statements of the receipt path, built once (their cache keys are memoised; see
# dispatch/_sql.py for why that matters).
_PENDING_ROWS = (
    select(Message.id, Message.account_id, Message.price, Message.sending_id, *_EVENT_COLUMNS)
    .where(
        Message.id.in_(bindparam("b_ids", expanding=True)),
        Message.status.in_([s.value for s in PENDING]),
    )
    .with_for_update()  # PostgreSQL: a racing cancel waits; SQLite holds the db lock anyway
)
_FINALIZE = (
    update(messages_table)
    .where(messages_table.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error_code=bindparam("b_error"),
        done_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
        next_attempt_at=None,
    )
)
_GENEROUS = (
    select(Account.id)
    .outerjoin(PricePlan, PricePlan.id == Account.price_plan_id)
    .where(
        Account.id.in_(bindparam("b_ids", expanding=True)),
        func.coalesce(Account.refund_undeliverable, PricePlan.refund_undeliverable, False).is_(
            True
        ),
    )
)


def _change(row: Any, status: str, error: str | None, now: datetime) -> webhook_events.StatusChange:
    return webhook_events.StatusChange(
        message_id=row.id,
        account_id=row.account_id,
        request_id=row.request_id,
        surface=row.surface,
        msisdn=row.msisdn,
        sending_id=row.sending_id,
        callback_url=row.callback_url,
        status=status,
        error_code=error,
        created_at=row.created_at,
        submitted_at=row.submitted_at,
        done_at=now,
    )


def finalize(
    session: Session,
    changes: Sequence[tuple[int, MessageStatus, str | None]],
    now: datetime,
    *,
    force_refund: bool = False,
) -> int:
    """Move messages to final statuses (id, status, error) and refund what policy says:
    rejected and cancelled always; undeliverable when the account's refund policy (or, if
    the account has none, its price plan's) says so; everything with ``force_refund``.

    Returns how many messages actually changed; the rest were already final.
    """
    if not changes:
        return 0
    wanted = {mid: (status, error) for mid, status, error in changes}
    conn = session.connection()
    rows = [
        row
        for chunk in batched(sorted(wanted), _SLICE)
        for row in conn.execute(_PENDING_ROWS, {"b_ids": list(chunk)})
    ]
    if not rows:
        return 0
    # The rows are locked by the SELECT above (or by SQLite's database lock), so no status
    # guard is needed here; executemany could not expand one anyway.
    conn.execute(
        _FINALIZE,
        [
            {"b_id": mid, "b_status": wanted[mid][0], "b_error": wanted[mid][1], "b_now": now}
            for mid, *_ in rows
        ],
    )
    webhook_events.enqueue(
        session,
        [_change(r, wanted[r.id][0], wanted[r.id][1], now) for r in rows],
        now,
    )
    generous = refunds_undeliverable(session, {r.account_id for r in rows})

    def refunded(mid: int, account_id: int) -> bool:
        status = wanted[mid][0]
        return (
            force_refund
            or status in ALWAYS_REFUNDED
            or (status == MessageStatus.UNDELIVERABLE and account_id in generous)
        )

    back = [
        Refund(r.account_id, r.id, r.price)
        for r in rows
        if r.price and refunded(r.id, r.account_id)
    ]
    reasons = {str(wanted[item.message_id][0]) for item in back}
    refund(session, back, "/".join(sorted(reasons)), now)
    complete_sendings(session, {r.sending_id for r in rows if r.sending_id is not None}, now)
    return len(rows)


def refunds_undeliverable(session: Session, account_ids: set[int]) -> set[int]:
    """The accounts among ``account_ids`` whose undeliverable messages are refunded."""
    if not account_ids:
        return set()
    return set(session.connection().execute(_GENEROUS, {"b_ids": sorted(account_ids)}).scalars())


def complete_sendings(session: Session, sending_ids: set[int], now: datetime) -> None:
    if not sending_ids:
        return
    unfinished = exists().where(
        Message.sending_id == Sending.id, Message.status.in_([s.value for s in PENDING])
    )
    session.execute(
        update(Sending)
        .where(
            Sending.id.in_(sending_ids),
            ~unfinished,
            Sending.status.notin_([SendingStatus.CANCELLED, SendingStatus.COMPLETED]),
        )
        .values(status=SendingStatus.COMPLETED, updated_at=now),
        execution_options={"synchronize_session": False},
    )


def _cancellable(now: datetime) -> list[ColumnElement[bool]]:
    # A message under a live dispatcher lease may be on the wire right now: not cancellable.
    return [
        Message.status.in_(CANCELLABLE),
        or_(Message.lease_until.is_(None), Message.lease_until < now),
    ]


def cancel_messages(
    session: Session,
    account_id: int,
    now: datetime,
    *,
    sending_id: int | None = None,
    message_id: int | None = None,
) -> int:
    query = update(Message).where(Message.account_id == account_id, *_cancellable(now))
    if sending_id is not None:
        query = query.where(Message.sending_id == sending_id)
    if message_id is not None:
        query = query.where(Message.id == message_id)
    # RETURNING names exactly the rows this statement changed, so a message claimed by a
    # dispatcher in the meantime is neither cancelled nor refunded.
    rows = session.execute(
        query.values(
            status=MessageStatus.CANCELLED,
            error_code="cancelled",
            done_at=now,
            updated_at=now,
            next_attempt_at=None,
        ).returning(
            Message.id, Message.price, Message.account_id, Message.sending_id, *_EVENT_COLUMNS
        ),
        execution_options={"synchronize_session": False},
    ).all()
    webhook_events.enqueue(
        session,
        [_change(r, MessageStatus.CANCELLED, "cancelled", now) for r in rows],
        now,
    )
    refund(session, [Refund(account_id, r.id, r.price) for r in rows], "cancelled", now)
    return len(rows)


def cancel_sending(session: Session, account_id: int, sending_id: int, now: datetime) -> int:
    sending = get_sending(session, account_id, sending_id)
    if sending.status in (SendingStatus.COMPLETED, SendingStatus.CANCELLED):
        raise InvalidRequest(
            f"sending {sending_id} is already {sending.status}", code="not_cancellable"
        )
    count = cancel_messages(session, account_id, now, sending_id=sending_id)
    still_pending = session.scalar(
        select(
            exists().where(
                Message.sending_id == sending_id, Message.status.in_([s.value for s in PENDING])
            )
        )
    )
    sending.status = SendingStatus.PROCESSING if still_pending else SendingStatus.CANCELLED
    if not still_pending and count == 0:
        sending.status = SendingStatus.COMPLETED
    sending.updated_at = now
    return count
