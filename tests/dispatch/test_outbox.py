"""The outbox on a real database: claims, leases, retries, receipts and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.connectors.base import Outcome, Receipt, SubmitResult
from smsgate.db import Database
from smsgate.dispatch.models import EarlyReceipt
from smsgate.dispatch.outbox import (
    apply_receipts,
    claim,
    expire_unconfirmed,
    expire_unsent,
    forget_early,
    message_status_from_parts,
    reapply_early,
    record_submits,
    release,
)
from smsgate.dispatch.retry import RetryPolicy
from smsgate.messaging.models import Message, MessagePart
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.messaging.status import MessageStatus as S
from tests.support.factories import make_customer

LEASE = timedelta(seconds=30)
RETRY = RetryPolicy(base=1, cap=10)


def _send(
    db: Database, settings: Settings, account_id: int, sender: str, n: int = 3, text: str = "hello"
) -> list[int]:
    accepted = SendService(db, settings).send_now(
        SendRequest(
            account_id=account_id,
            recipients=[f"+3712612{i:04d}" for i in range(n)],
            text=text,
            sender=sender,
        )
    )
    return [m.id for m in accepted.messages]


def _status(db: Database, message_id: int) -> Message:
    with db.read() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def test_claims_do_not_overlap_and_expired_leases_are_reclaimed(
    db: Database, settings: Settings, plan: str
) -> None:
    c = make_customer(db)
    ids = _send(db, settings, c.account_id, c.sender, n=5)
    now = datetime.now(UTC)
    with db.write() as s:
        first = claim(s, "a", 3, now, LEASE)
    with db.write() as s:
        second = claim(s, "b", 10, now + timedelta(seconds=20), LEASE)
    assert len(first) == 3 and len(second) == 2
    assert {x.message.id for x in first} | {x.message.id for x in second} == set(ids)
    with db.write() as s:
        assert claim(s, "c", 10, now + timedelta(seconds=20), LEASE) == []
    # dispatcher "a" dies: after its lease, "c" takes its messages over
    with db.write() as s:
        taken = claim(s, "c", 10, now + LEASE + timedelta(seconds=1), LEASE)
    assert {x.message.id for x in taken} == {x.message.id for x in first}
    assert all(x.attempts == 2 for x in taken)
    # "a" comes back late: its write is fenced out, "c"'s stands
    with db.write() as s:
        record_submits(
            s,
            "a",
            "sim",
            first,
            [SubmitResult(x.message.id, Outcome.SUBMITTED, ("late",)) for x in first],
            now,
            RETRY,
        )
    assert all(_status(db, x.message.id).status == S.QUEUED for x in first)


def test_submit_outcomes_receipts_and_refunds(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db, balance=Decimal("1"))
    ids = _send(db, settings, c.account_id, c.sender, n=4)
    now = datetime.now(UTC)
    with db.write() as s:
        claimed = claim(s, "w", 10, now, LEASE)
    results = [
        SubmitResult(ids[0], Outcome.SUBMITTED, ("u0",)),
        SubmitResult(ids[1], Outcome.SUBMITTED, ("u1",)),
        SubmitResult(ids[2], Outcome.TRANSIENT, error_code="throttled"),
        SubmitResult(ids[3], Outcome.PERMANENT, error_code="invalid_dest"),
    ]
    with db.write() as s:
        record_submits(s, "w", "sim", claimed, results, now, RETRY)
    assert _status(db, ids[0]).status == S.SUBMITTED
    retried = _status(db, ids[2])
    assert retried.status == S.QUEUED and retried.lease_owner is None
    assert retried.next_attempt_at is not None and retried.next_attempt_at > now
    rejected = _status(db, ids[3])
    assert (
        rejected.status == S.REJECTED
        and rejected.error_code == "invalid_dest"
        and rejected.refunded
    )
    receipts = [
        Receipt("sim", "u0", S.DELIVERED, None, now),
        Receipt("sim", "u1", S.UNDELIVERABLE, "absent", now),
        Receipt("sim", "u0", S.UNDELIVERABLE, None, now),
    ]  # duplicate, contradicting
    with db.write() as s:
        apply_receipts(s, receipts[:2], now)
    with db.write() as s:
        apply_receipts(s, receipts[2:], now)
    assert _status(db, ids[0]).status == S.DELIVERED
    undeliverable = _status(db, ids[1])
    assert undeliverable.status == S.UNDELIVERABLE and not undeliverable.refunded
    with db.read() as s:
        assert ledger.balance(s, c.account_id) == ledger.entries_total(s, c.account_id)
        assert ledger.balance(s, c.account_id) == Decimal("1") - 3 * _status(db, ids[0]).price


def test_receipt_before_submit_record_is_kept(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    (mid,) = _send(db, settings, c.account_id, c.sender, n=1, text="x" * 200)  # two parts
    now = datetime.now(UTC)
    with db.write() as s:
        apply_receipts(s, [Receipt("sim", "p2", S.DELIVERED, None, now)], now)
    with db.write() as s:
        claimed = claim(s, "w", 10, now, LEASE)
        record_submits(
            s, "w", "sim", claimed, [SubmitResult(mid, Outcome.SUBMITTED, ("p1", "p2"))], now, RETRY
        )
    assert _status(db, mid).status == S.SUBMITTED  # one part of two is final
    with db.write() as s:
        apply_receipts(s, [Receipt("sim", "p1", S.DELIVERED, None, now)], now)
    assert _status(db, mid).status == S.DELIVERED


def test_expiry_refunds_unsent_and_closes_unconfirmed(
    db: Database, settings: Settings, plan: str
) -> None:
    c = make_customer(db, balance=Decimal("1"))
    ids = _send(db, settings, c.account_id, c.sender, n=2)
    later = datetime.now(UTC) + timedelta(seconds=settings.validity_seconds + 60)
    now = datetime.now(UTC)
    with db.write() as s:
        claimed = claim(s, "w", 1, now, LEASE)
        record_submits(
            s,
            "w",
            "sim",
            claimed,
            [SubmitResult(claimed[0].message.id, Outcome.SUBMITTED, ("z",))],
            now,
            RETRY,
        )
    with db.write() as s:
        assert expire_unsent(s, later) == 1
        assert expire_unconfirmed(s, later, timedelta(0)) == 1
    sent, unsent = sorted(ids, key=lambda i: i != claimed[0].message.id)
    assert _status(db, unsent).error_code == "expired" and _status(db, unsent).refunded
    assert _status(db, sent).error_code == "no_receipt" and not _status(db, sent).refunded
    assert {_status(db, i).status for i in ids} == {S.UNDELIVERABLE}


def test_message_status_rule_over_parts() -> None:
    assert message_status_from_parts(["delivered", "delivered"]) == S.DELIVERED
    assert message_status_from_parts(["delivered", "submitted"]) is None
    assert message_status_from_parts(["delivered", "undeliverable"]) == S.UNDELIVERABLE
    assert message_status_from_parts(["rejected", "delivered"]) == S.REJECTED
    assert message_status_from_parts([]) is None


def test_parked_receipt_is_applied_once_its_part_is_visible(
    db: Database, settings: Settings, plan: str
) -> None:
    """The race of two concurrent commits: the receipt parked, the submit missed it."""
    c = make_customer(db)
    (mid,) = _send(db, settings, c.account_id, c.sender, n=1)
    now = datetime.now(UTC)
    with db.write() as s:
        apply_receipts(s, [Receipt("sim", "late", S.DELIVERED, None, now)], now)
    with db.write() as s:
        claimed = claim(s, "w", 10, now, LEASE)
        record_submits(
            s, "w", "sim", claimed, [SubmitResult(mid, Outcome.SUBMITTED, ("late",))], now, RETRY
        )
    # simulate the race: put the receipt back as if the submit had not seen it
    with db.write() as s:
        s.execute(MessagePart.__table__.update().values(status="submitted"))
        s.execute(Message.__table__.update().values(status="submitted", done_at=None))
        s.add(EarlyReceipt(connector="sim", upstream_id="late", status="delivered"))
    with db.write() as s:
        assert reapply_early(s, now) == 1
    assert _status(db, mid).status == S.DELIVERED
    with db.write() as s:
        assert reapply_early(s, now) == 0


def test_unmatched_receipts_are_forgotten_and_no_connector_waits_cost_no_attempt(
    db: Database, settings: Settings, plan: str
) -> None:
    c = make_customer(db)
    (mid,) = _send(db, settings, c.account_id, c.sender, n=1)
    now = datetime.now(UTC)
    with db.write() as s:
        apply_receipts(s, [Receipt("sim", "stranger", S.DELIVERED, None, now)], now)
    with db.write() as s:
        assert forget_early(s, now - timedelta(seconds=1)) == 0
        assert forget_early(s, now + timedelta(seconds=1)) == 1
    with db.write() as s:
        (claimed,) = claim(s, "w", 10, now, LEASE)
        assert claimed.attempts == 1
        release(s, "w", [mid], retry_at=now)
    with db.write() as s:
        (again,) = claim(s, "w", 10, now, LEASE)
    assert again.attempts == 1  # the wait for a connector was not an attempt


def test_a_backlog_of_receipts_larger_than_one_query_is_applied_whole(
    db: Database, settings: Settings, plan: str
) -> None:
    # After an outage an SMSC replays thousands of receipts at once; one IN list of them all
    # overflowed PostgreSQL (stack depth, then 65,535 parameters). 1,203 spans three slices.
    n = 1_203
    c = make_customer(db, balance=Decimal("1000"))
    ids = _send(db, settings, c.account_id, c.sender, n=n)
    now = datetime.now(UTC)
    with db.write() as s:
        claimed = claim(s, "w", n, now, LEASE)
    results = [SubmitResult(i, Outcome.SUBMITTED, (f"u{i}",)) for i in ids]
    with db.write() as s:
        record_submits(s, "w", "sim", claimed, results, now, RETRY)
    receipts = [Receipt("sim", f"u{i}", S.DELIVERED, None, now) for i in ids]
    receipts.append(Receipt("sim", "nobody", S.DELIVERED, None, now))
    with db.write() as s:
        finalised = apply_receipts(s, receipts, now)
    assert finalised == n
    with db.read() as s:
        delivered = s.query(Message).filter(Message.id.in_(ids), Message.status == S.DELIVERED)
        assert delivered.count() == n
        assert s.query(EarlyReceipt).filter(EarlyReceipt.upstream_id == "nobody").count() == 1
