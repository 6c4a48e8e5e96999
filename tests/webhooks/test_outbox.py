"""The webhook outbox on both databases: leases, fencing, the retry window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsgate.config import Settings
from smsgate.db import Database
from smsgate.dispatch.retry import RetryPolicy
from smsgate.messaging.lifecycle import cancel_messages
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.webhooks import outbox, service
from smsgate.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.support.factories import Customer, make_customer

LEASE = timedelta(seconds=30)
RETRY = RetryPolicy(base=10, cap=3600)
DAY = timedelta(hours=24)


def _cancelled_event(db: Database, settings: Settings, c: Customer, now: datetime) -> int:
    """A scheduled message with a callback_url, cancelled: one queued delivery."""
    accepted = SendService(db, settings).send_now(
        SendRequest(
            account_id=c.account_id,
            recipients=["+37126123456"],
            text="x",
            sender=c.sender,
            scheduled_at=now + timedelta(hours=1),
            callback_url="https://shop.example/hook",
        )
    )
    message_id = accepted.messages[0].id
    with db.write() as session:
        assert cancel_messages(session, c.account_id, now, message_id=message_id) == 1
    return message_id


def _attempt(
    due: outbox.Due, at: datetime, code: int | None, *, permanent: bool = False
) -> outbox.Attempt:
    return outbox.Attempt(due, at, code, None if code == 200 else "HTTP 500", 5, permanent)


def _delivery(db: Database, c: Customer) -> WebhookDelivery:
    with db.read() as session:
        (log,) = service.list_deliveries(session, c.account_id)
        return log.delivery


def test_claim_lease_and_fencing(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    now = datetime.now(UTC)
    message_id = _cancelled_event(db, settings, c, now)
    with db.write() as session:
        (due,) = outbox.claim(session, "a", 10, now, LEASE)
        assert outbox.claim(session, "b", 10, now, LEASE) == []  # leased
    assert due.secret.startswith("whsec_")  # made for the account at its first delivery
    with db.read() as session:
        assert service.get_config(session, c.account_id).has_secret
    # a replay while "a" is posting: "a"'s answer is logged but moves nothing
    with db.write() as session:
        service.replay(session, c.account_id, due.id, now)
    with db.write() as session:
        outbox.record(session, "a", [_attempt(due, now, 200)], RETRY, DAY)
    d = _delivery(db, c)
    assert (d.status, d.next_attempt_at, d.message_id) == (DeliveryStatus.PENDING, now, message_id)
    with db.write() as session:
        (again,) = outbox.claim(session, "b", 10, now, LEASE)
        outbox.record(session, "b", [_attempt(again, now, 500)], RETRY, DAY)
    d = _delivery(db, c)
    assert d.status == DeliveryStatus.PENDING and d.attempts == 1
    assert d.next_attempt_at is not None
    assert now + timedelta(seconds=5) <= d.next_attempt_at <= now + timedelta(seconds=10)
    assert d.last_status_code == 500 and d.last_error == "HTTP 500"
    # a lease that ran out: another worker takes the delivery
    later = d.next_attempt_at
    with db.write() as session:
        (third,) = outbox.claim(session, "c", 10, later, LEASE)
        assert outbox.claim(session, "d", 10, later + LEASE, LEASE) != []
    with db.read() as session:
        (log,) = service.list_deliveries(session, c.account_id)
    assert [a.status_code for a in log.attempts] == [200, 500]
    assert third.attempts == 1


def test_retries_end_after_the_retry_period(db: Database, settings: Settings, plan: str) -> None:
    c = make_customer(db)
    now = datetime.now(UTC)
    _cancelled_event(db, settings, c, now)
    at = now + DAY - timedelta(seconds=2)  # the next delay (>= 5 s) would pass the 24 h
    with db.write() as session:
        (due,) = outbox.claim(session, "a", 10, at, LEASE)
        counts = outbox.record(session, "a", [_attempt(due, at, 500)], RETRY, DAY)
    assert counts[DeliveryStatus.FAILED] == 1
    d = _delivery(db, c)
    assert (d.status, d.next_attempt_at, d.lease_owner) == (DeliveryStatus.FAILED, None, None)
    # replay: a new retry period from now, attempts counted afresh
    with db.write() as session:
        service.replay(session, c.account_id, d.id, at)
        (due,) = outbox.claim(session, "a", 10, at, LEASE)
        assert due.attempts == 0 and due.queued_at == at
        outbox.record(session, "a", [_attempt(due, at, None, permanent=True)], RETRY, DAY)
    assert _delivery(db, c).status == DeliveryStatus.FAILED  # refused address: no retry
