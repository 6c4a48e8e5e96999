"""Leases outlive a slow upstream: a worker busy with a long submit keeps its connector and its
claimed messages, so a second worker neither takes the connector over nor sends again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from smsgate.config import Settings
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.dispatch.dispatcher import Dispatcher
from smsgate.dispatch.models import ConnectorLease
from smsgate.dispatch.outbox import claim, renew_claims
from smsgate.kit.time import utcnow
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.messaging.status import MessageStatus
from smsgate.routing.service import add_route
from tests.connectors import fake_smsc
from tests.support.factories import make_customer

# Seconds, both leases: the SMSC below answers more than twice slower. A renewal comes every
# third of a lease, so the lease survives a beat held up by up to 2 s. A loaded machine's
# stalls reached a second, which a 1 s lease did not survive, and with three test workers on
# two cores a 2 s lease lapsed once (each message was claimed again and sent twice).
LEASE = 3
SLOW = 7.0  # the fake SMSC's delay before each submit_sm_resp


def _short_leases(settings: Settings) -> Settings:
    # model_copy skips validation: these leases are below the settings' floors (5 s for a
    # claim), which keeps the test to a few seconds
    return settings.model_copy(
        update={"connector_lease_seconds": float(LEASE), "dispatch_lease_seconds": LEASE}
    )


def _send(db: Database, settings: Settings, n: int) -> list[int]:
    customer = make_customer(db, balance=Decimal("10"))
    accepted = SendService(db, settings).send_now(
        SendRequest(
            account_id=customer.account_id,
            recipients=[f"+3712612{i:04d}" for i in range(n)],
            text="slow upstream",
            sender=customer.sender,
        )
    )
    return [m.id for m in accepted.messages]


def _messages(db: Database, ids: list[int]) -> list[Message]:
    with db.read() as s:
        return list(s.scalars(select(Message).where(Message.id.in_(ids))))


def _holder(db: Database) -> str | None:
    with db.read() as s:
        return s.scalar(select(ConnectorLease.owner).where(ConnectorLease.connector == "carrier"))


def test_a_slow_smsc_keeps_the_leases_and_nothing_is_sent_twice(
    db: Database, settings: Settings, plan: str
) -> None:
    short = _short_leases(settings)
    ids = _send(db, short, 5)

    async def scenario() -> tuple[fake_smsc.FakeSmsc, set[str | None], str]:
        async with fake_smsc.happy("text", resp_delay=SLOW) as smsc:
            options = {"host": "127.0.0.1", "port": smsc.port, "system_id": "smsgate"}
            with db.write() as s:
                add_connector(s, "carrier", "smpp", options | {"response_timeout": 20}, "pw")
                add_route(s, "carrier")
            first, second = Dispatcher(db, short), Dispatcher(db, short)
            await first.start()  # takes the connector's lease, then claims
            await second.start()
            holders: set[str | None] = set()
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + SLOW * 5
                while loop.time() < deadline:
                    holders.add(await asyncio.to_thread(_holder, db))
                    done = await asyncio.to_thread(_messages, db, ids)
                    if all(m.status == MessageStatus.DELIVERED for m in done):
                        break
                    await asyncio.sleep(0.1)
            finally:
                await second.stop()
                await first.stop()
            return smsc, holders, first.owner

    smsc, holders, first_owner = asyncio.run(scenario())
    done = _messages(db, ids)
    assert {m.status for m in done} == {MessageStatus.DELIVERED}
    # the first worker held the connector throughout: the SMSC saw one bind, one submit_sm
    # per message, and each message was claimed once
    assert holders == {first_owner}
    assert len(smsc.binds) == 1
    assert sorted(s.pdu.destination_addr for s in smsc.submits) == [
        f"3712612{i:04d}" for i in range(5)
    ]
    assert {m.attempts for m in done} == {1}


def test_renewals_extend_only_what_the_owner_still_holds(
    db: Database, settings: Settings, plan: str
) -> None:
    ids = _send(db, settings, 3)
    now = utcnow()
    with db.write() as s:
        claimed = claim(s, "a", 10, now, timedelta(seconds=1))
    assert sorted(c.message.id for c in claimed) == sorted(ids)
    later = now + timedelta(seconds=30)
    with db.write() as s:
        assert renew_claims(s, "b", ids, later) == 0  # not b's
        assert renew_claims(s, "a", ids[:2], later) == 2
    assert sorted(m.lease_until == later for m in _messages(db, ids)) == [False, True, True]
    # an expired claim taken over by b is no longer a's to renew
    with db.write() as s:
        assert len(claim(s, "b", 10, now + timedelta(seconds=2), timedelta(seconds=1))) == 1
        assert renew_claims(s, "a", ids, later) == 2

    lease = timedelta(seconds=10)
    with db.write() as s:
        assert leases.acquire(s, "a", ["x", "y"], now, lease) == {"x", "y"}
        assert leases.renew(s, "a", ["x", "y", "z"], now, lease) == {"x", "y"}
        assert leases.renew(s, "b", ["x"], now, lease) == set()
    with db.write() as s:  # y expired and was taken over: a keeps only x
        assert leases.acquire(s, "b", ["y"], now + 2 * lease, lease) == {"y"}
        assert leases.renew(s, "a", ["x", "y"], now + 2 * lease, lease) == {"x"}
