"""A misbehaving SMSC: a sending of a few hundred messages goes through the dispatcher and
the SMPP connector to a fake SMSC on loopback that drops connections, stops answering,
answers slowly, throttles, or sends its receipts twice, out of order and before its own
submit_sm_resp; and to one that does all of it at once.

Whatever it does, every message ends final, each message's statuses only move forward
(recorded through the webhook outbox, written in the transaction of every change), a
duplicate receipt changes nothing, and the ledger balances. The SMSC here is a store and
forward one, as real ones are: a receipt whose connection is lost before its deliver_sm_resp
is sent again on the next bind, so receipts are never lost, only repeated.

The connector-level behaviour of each fault has its own test in tests/connectors; this is
the matrix of the whole path, the dispatcher's retries and the outbox included.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import select

from smsgate.config import Settings
from smsgate.connectors.smpp.client import SmppConnector
from smsgate.connectors.smpp.pdu import (
    DeliverSmResp,
    EnquireLink,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    _Bind,
)
from smsgate.db import Database
from smsgate.dispatch.dispatcher import Dispatcher
from smsgate.messaging.models import Message, MessagePart
from smsgate.messaging.prepare import SendRequest
from smsgate.messaging.service import SendService
from smsgate.messaging.status import FINAL, TRANSITIONS, MessageStatus
from smsgate.routing.service import add_route
from smsgate.webhooks.models import WebhookDelivery
from smsgate.webhooks.service import set_url
from tests.connectors.fake_smsc import FakeSmsc, Submitted, receipt_pdu
from tests.hardening import outage
from tests.support.factories import Customer, make_customer

S = MessageStatus
SHORT, LONG = 240, 30  # messages of one part and of two parts: 300 parts in all
INVALID_DEST = 0x0B  # ESME_RINVDSTADR: a permanent refusal
THROTTLED = 0x58


def expected_state(msisdn: str) -> str:
    """What the SMSC reports for a number: the test knows each message's end in advance."""
    if msisdn.endswith("55"):
        return "REJECTD"
    if msisdn.endswith("7"):
        return "UNDELIV"
    return "DELIVRD"


FINAL_OF = {"DELIVRD": S.DELIVERED, "UNDELIV": S.UNDELIVERABLE, "REJECTD": S.REJECTED}


def refused(msisdn: str) -> bool:
    """Numbers the SMSC refuses for good on submit (rejected and refunded)."""
    return msisdn.endswith("99")


@dataclass
class Faults:
    drop_every: int = 0  # abort the connection at every n-th submit_sm (accepted, unanswered)
    hang_at: tuple[int, ...] = ()  # at these submit_sm, stop answering anything for hang_for s
    hang_for: float = 0.0
    resp_delay: float = 0.0  # every submit_sm_resp this late
    late_every: int = 0  # every n-th submit_sm_resp after the client's response timeout
    late_by: float = 0.0
    throttle_tps: float = 0.0  # above this many submit_sm a second: ESME_RTHROTTLED
    copies: int = 1  # each final receipt sent this many times
    intermediate: bool = False  # ENROUTE before and ACCEPTD after the final receipt
    receipt_spread: float = 0.02  # receipts come after a random delay up to this
    receipt_first: float = 0.0  # share of receipts sent before their submit_sm_resp


@dataclass
class _Pending:
    sub: Submitted
    stat: str


@dataclass
class FaultySmsc(FakeSmsc):
    """FakeSmsc with scheduled faults and store-and-forward receipts (see the module)."""

    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    drops: int = 0
    hangs: int = 0
    late: int = 0
    throttled: int = 0
    receipts_sent: int = 0
    redelivered: int = 0
    _rng: random.Random = field(default_factory=random.Random)
    _hung_until: float = 0.0
    _tokens: float = 0.0
    _filled_at: float = 0.0
    _bound: dict[asyncio.StreamWriter, int] = field(default_factory=dict)
    _unacked: dict[tuple[int, int], tuple[asyncio.StreamWriter, _Pending]] = field(
        default_factory=dict
    )
    _stored: list[_Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await super()._client(reader, writer)
        finally:
            self._lost(writer)

    def _lost(self, writer: asyncio.StreamWriter) -> None:
        self._bound.pop(writer, None)
        for key, (w, pending) in list(self._unacked.items()):
            if w is writer:  # sent, never acknowledged: the SMSC keeps it for the next bind
                del self._unacked[key]
                self._stored.append(pending)

    def _hung(self) -> bool:
        return asyncio.get_running_loop().time() < self._hung_until

    def _handle(self, pdu: Pdu, writer: asyncio.StreamWriter, connection: int) -> None:
        if isinstance(pdu, EnquireLink) and self._hung():
            self.enquire_links += 1
            return
        if isinstance(pdu, DeliverSmResp):
            self._unacked.pop((connection, pdu.sequence), None)
        super()._handle(pdu, writer, connection)
        if isinstance(pdu, _Bind) and not writer.is_closing():
            self._bound[writer] = connection
            stored, self._stored = self._stored, []
            self.redelivered += len(stored)
            for pending in stored:
                self._deliver(pending)

    def _submit(self, pdu: SubmitSm, writer: asyncio.StreamWriter, connection: int) -> None:
        f, loop = self.faults, asyncio.get_running_loop()
        n = len(self.submits) + 1
        sub = Submitted(n, pdu, connection)
        self.submits.append(sub)
        if self._hung():
            return  # received, never answered, never delivered
        if n in f.hang_at:
            self.hangs += 1
            self._hung_until = loop.time() + f.hang_for
            return
        number = pdu.destination_addr
        if refused(number):
            self._later(f.resp_delay, writer, SubmitSmResp(pdu.sequence, INVALID_DEST))
            return
        if f.throttle_tps and self._over_rate(f.throttle_tps, loop.time()):
            self.throttled += 1
            self._later(f.resp_delay, writer, SubmitSmResp(pdu.sequence, THROTTLED))
            return
        sub.message_id = self.resp_id(n)
        pending = _Pending(sub, expected_state(number))
        if f.drop_every and n % f.drop_every == 0:
            # Accepted, and the answer is cut off with the connection: the client sends the
            # message again, and this copy's receipt names an id it never learnt.
            self.drops += 1
            self._schedule_receipts(pending, 0.0)
            writer.transport.abort()
            return
        delay = f.resp_delay
        if f.late_every and n % f.late_every == 0:
            self.late += 1
            delay += f.late_by
        if f.receipt_first and self._rng.random() < f.receipt_first:
            self._deliver(pending, writer)
            delay = max(delay, 0.05)
        else:
            self._schedule_receipts(pending, delay)
        self._later(delay, writer, SubmitSmResp(pdu.sequence, 0, sub.message_id))

    def _over_rate(self, tps: float, now: float) -> bool:
        """A token bucket of a fifth of a second's worth, as SMSCs enforce their limit."""
        self._tokens = min(tps / 5, self._tokens + (now - self._filled_at) * tps)
        self._filled_at = now
        if self._tokens < 1:
            return True
        self._tokens -= 1
        return False

    def _schedule_receipts(self, pending: _Pending, after: float) -> None:
        f, loop = self.faults, asyncio.get_running_loop()
        plan = [pending] * f.copies
        if f.intermediate:
            plan = [_Pending(pending.sub, "ENROUTE"), *plan, _Pending(pending.sub, "ACCEPTD")]
        at = after
        for item in plan:  # each copy later than the one before, all in a random spread
            at += self._rng.uniform(0, f.receipt_spread)
            loop.call_later(at, self._deliver, item)

    def _deliver(self, pending: _Pending, writer: asyncio.StreamWriter | None = None) -> None:
        """Send a receipt on the connection that took the message, or any bound one; with
        none bound, keep it for the next bind."""
        if writer is None or writer.is_closing() or writer not in self._bound:
            live = [w for w in self._bound if not w.is_closing()]
            same = [w for w in live if self._bound[w] == pending.sub.connection]
            writer = (same or live or [None])[0]
        if writer is None:
            self._stored.append(pending)
            return
        assert pending.sub.message_id is not None
        self._seq += 1
        self.deliver_sent += 1
        self.receipts_sent += 1
        # receipt_pdu reads the state from an SMSC's knobs: one that reports this state
        stat = FakeSmsc(receipt_stat=lambda _: (pending.stat, "000"))
        self._unacked[(self._bound[writer], self._seq)] = (writer, pending)
        pdu = receipt_pdu(self._seq, pending.sub, pending.sub.message_id, stat)
        self._write(writer, pdu)


MODES: dict[str, Faults] = {
    "drops": Faults(drop_every=37),
    "stops_answering": Faults(hang_at=(60, 200), hang_for=1.0),
    "slow": Faults(resp_delay=0.15, late_every=23, late_by=0.6),
    "throttles": Faults(throttle_tps=100),
    "receipts_twice_out_of_order": Faults(
        copies=2, intermediate=True, receipt_spread=0.4, receipt_first=0.2
    ),
    "everything": Faults(
        drop_every=61,
        hang_at=(150,),
        hang_for=1.0,
        resp_delay=0.05,
        late_every=41,
        late_by=0.6,
        throttle_tps=120,
        copies=2,
        intermediate=True,
        receipt_spread=0.4,
        receipt_first=0.15,
    ),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "dispatch_lease_seconds": 5,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.5,
        }
    )


def _numbers() -> tuple[list[str], list[str]]:
    short = [f"+3712{n:07d}" for n in range(SHORT)]
    long = [f"+3712{n:07d}" for n in range(5_000, 5_000 + LONG)]
    return short, long


async def _run_sending(db: Database, settings: Settings, smsc: FaultySmsc, c: Customer) -> float:
    connector = SmppConnector(
        "carrier",
        "127.0.0.1",
        smsc.port,
        "smsgate",
        "secret",
        binds=2,
        window=20,
        tps=200,  # above what the throttling SMSC takes: it has to slow down
        response_timeout=0.5,
        enquire_link_interval=0.4,
        reconnect_min=0.05,
        reconnect_max=0.2,
        bind_wait=1.0,
        receipt_hold=0.3,
    )
    dispatcher = Dispatcher(db, settings, [connector])
    sends = SendService(db, settings, on_accept=dispatcher.wake)
    await dispatcher.start()
    await sends.start()
    try:
        deadline = time.monotonic() + 10
        while not connector.healthy:
            assert time.monotonic() < deadline, "the connector never bound"
            await asyncio.sleep(0.02)
        started = time.monotonic()
        short, long = _numbers()
        await asyncio.gather(
            sends.send(SendRequest(c.account_id, short, "fault matrix", c.sender, as_sending=True)),
            sends.send(SendRequest(c.account_id, long, "two parts " * 20, c.sender)),
        )
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(outage.pending, db, c.account_id):
            assert time.monotonic() < deadline, "messages still pending after 60 s"
            await asyncio.sleep(0.2)
        return time.monotonic() - started
    finally:
        await sends.stop()
        await dispatcher.stop()


def check_forward_only(db: Database, account_id: int) -> dict[int, list[str]]:
    """Every message's statuses, in the order they were committed, follow TRANSITIONS from
    its entry status; each appears once, and the last is the message's status."""
    histories: dict[int, list[str]] = defaultdict(list)
    with db.read() as s:
        for message_id, payload in s.execute(
            select(WebhookDelivery.message_id, WebhookDelivery.payload)
            .where(WebhookDelivery.account_id == account_id)
            .order_by(WebhookDelivery.id)
        ):
            histories[message_id].append(json.loads(payload)["status"])
        rows = s.execute(select(Message.id, Message.status).where(Message.account_id == account_id))
        messages = dict(rows.all())
    assert set(histories) == set(messages), "a message changed status without an event"
    for message_id, history in histories.items():
        current = S.QUEUED
        for status in history:
            assert S(status) in TRANSITIONS[current] and S(status) != current, (
                f"message {message_id} moved {current} -> {status} ({history})"
            )
            current = S(status)
        assert current in FINAL and current == messages[message_id], (message_id, history)
    return histories


def check_outcomes(db: Database, account_id: int) -> None:
    """Each message ended as the SMSC reported it, with every part final."""
    with db.read() as s:
        rows = s.execute(
            select(Message.id, Message.msisdn, Message.status, Message.parts).where(
                Message.account_id == account_id
            )
        ).all()
        parts: dict[int, list[str]] = defaultdict(list)
        for message_id, status in s.execute(
            select(MessagePart.message_id, MessagePart.status)
            .join(Message, Message.id == MessagePart.message_id)
            .where(Message.account_id == account_id)
        ):
            parts[message_id].append(status)
    assert len(rows) == SHORT + LONG
    for message_id, msisdn, status, count in rows:
        if refused(msisdn):
            assert status == S.REJECTED and not parts[message_id], (msisdn, status)
            continue
        assert status == FINAL_OF[expected_state(msisdn)], (msisdn, status)
        assert len(parts[message_id]) == count, (msisdn, parts[message_id])
        assert all(p in FINAL for p in parts[message_id]), (msisdn, parts[message_id])


@pytest.fixture(autouse=True)
def _budget(request: pytest.FixtureRequest) -> None:
    """The suite's time budget: on PostgreSQL the mixed mode runs by default, every single
    mode with --runslow. Decided from the parameters, before any database is made."""
    params = request.node.callspec.params
    single = params.get("db_url") == "postgres" and params.get("mode") != "everything"
    if single and not request.config.getoption("--runslow"):
        pytest.skip("single fault modes on PostgreSQL run with --runslow")


@pytest.mark.parametrize("mode", list(MODES))
def test_sending_through_a_faulty_smsc(
    db: Database, settings: Settings, plan: str, mode: str
) -> None:
    opening = Decimal(100)
    c = make_customer(db, balance=opening)
    with db.write() as s:
        add_route(s, "carrier")
        # the outbox of status events is the history this test reads; nothing delivers it
        set_url(s, c.account_id, "http://127.0.0.1:9/hooks", allow_private=True)
    smsc = FaultySmsc(faults=MODES[mode], seed=sum(map(ord, mode)))

    async def run() -> float:
        async with smsc:
            return await _run_sending(db, settings, smsc, c)

    elapsed = asyncio.run(run())
    print(
        f"\n{mode}: {SHORT + LONG} messages final in {elapsed:.1f} s; submits {len(smsc.submits)}"
        f", drops {smsc.drops}, hangs {smsc.hangs}, late {smsc.late}, throttled"
        f" {smsc.throttled}, receipts {smsc.receipts_sent} (redelivered {smsc.redelivered})"
    )
    faults = MODES[mode]
    # the fault did happen, so that the checks below are about it
    happened = {
        "drops": (faults.drop_every, smsc.drops),
        "hangs": (faults.hang_at, smsc.hangs),
        "late answers": (faults.late_every, smsc.late),
        "throttles": (faults.throttle_tps, smsc.throttled),
    }
    for what, (wanted, seen) in happened.items():
        assert seen >= 1 or not wanted, f"the SMSC made no {what}"
    if faults.copies > 1:
        assert smsc.receipts_sent >= 2 * (SHORT + 2 * LONG)
    check_forward_only(db, c.account_id)
    check_outcomes(db, c.account_id)
    outage.check_books(db, c.account_id, opening, messages=SHORT + LONG, topups=0)
