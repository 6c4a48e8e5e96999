"""The SMPP 3.4 client connector (why a codec of our own: docs/decisions/0005-smpp-codec.md).

``submit(batch)`` runs every message on its own. A message picks the bound session with the
least load and sends its parts in order, each once the previous one was accepted: a window
place, then the pace (throughput limit), then submit_sm, then its submit_sm_resp. So the
SMSC never holds part 2 without part 1, and a failure stops the parts after it. Many
messages are in flight at once, up to the window of each bind. Each message is a small
``_Sending`` driven by callbacks from the session's reads, not a Task: the submit_sm bodies
are made up front (``SubmitBuilder.bodies``, the sender's octets encoded once), and the one
Future per ``submit`` call is all the caller awaits.

    every part answered OK            SUBMITTED, one upstream id per part (ids.py)
    ESME_RTHROTTLED, ESME_RMSGQFUL    the pace slows down; TRANSIENT smpp_0x58 / smpp_0x14,
                                      but a later part of a message whose first parts were
                                      accepted is retried in place (3 times at most), so
                                      the retry of the whole message is the rare case
    ESME_RSYSERR, ESME_RX_T_APPN      TRANSIENT smpp_0x08 / smpp_0x64
    ESME_RINVBNDSTS                   TRANSIENT smpp_0x04, and the session binds again
    any other command_status          PERMANENT smpp_0x..
    no answer in response_timeout     TRANSIENT smpp_timeout
    connection lost, nothing bound    TRANSIENT smpp_connection_lost, smpp_not_bound
    text or address not encodable     PERMANENT smpp_encode

Receipts (receipts.py) are reported in batches gathered for at most ``receipt_linger``.
A receipt's deliver_sm is answered once the sink has recorded it (committed), so a crash in
between loses nothing: the SMSC sends the unanswered ones again on the next bind, and a
receipt recorded twice changes nothing. The price: an SMSC that allows only W unanswered
deliver_sm per bind gets at most W receipts per ``receipt_linger`` + one commit. A
deliver_sm that is not a receipt (MO) is decoded (mo.py) and handed to the inbound sink
(``set_inbound``) in batches gathered for ``receipt_linger`` too, answered once recorded like
receipts; without a sink it is logged, answered and dropped, and so is a receipt that is not
final or has no id.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, cast

import structlog

from smsgate.connectors.base import (
    InboundMessage,
    InboundSink,
    OutboundMessage,
    Outcome,
    Receipt,
    ReceiptSink,
    SubmitResult,
)
from smsgate.connectors.smpp.ids import Conversion, ReceiptIds
from smsgate.connectors.smpp.mo import inbound_message
from smsgate.connectors.smpp.pace import Pace
from smsgate.connectors.smpp.pdu import DeliverSm, Pdu, PduError, Status, SubmitSmResp
from smsgate.connectors.smpp.receipts import ParsedReceipt, is_receipt, parse_receipt
from smsgate.connectors.smpp.session import (
    Ack,
    BadResponse,
    Delivered,
    ResponseTimeout,
    Role,
    Session,
    SessionClosed,
    SessionSettings,
)
from smsgate.connectors.smpp.submit import DataCoding, LongMessages, SubmitBuilder
from smsgate.kit.time import utcnow

__all__ = ["SmppConnector"]

log = structlog.get_logger(__name__)

THROTTLING = frozenset({Status.THROTTLED, Status.MSGQFUL})
RETRYABLE = frozenset({Status.SYSERR, Status.X_T_APPN, Status.INVBNDSTS})
_PART_RETRIES = 3
# Plain names for what every submit_sm_resp looks up (an enum member's lookup is slow on 3.11).
_OK = int(Status.OK)
_INVBNDSTS = int(Status.INVBNDSTS)
_SUBMITTED, _TRANSIENT, _PERMANENT = Outcome.SUBMITTED, Outcome.TRANSIENT, Outcome.PERMANENT


class SmppConnector:
    """An SMPP 3.4 upstream: ``binds`` sessions (transceivers, or transmitters and one
    receiver), ``window`` submit_sm outstanding on each, ``tps`` parts a second in all."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        system_id: str,
        password: str,
        system_type: str = "",
        binds: int = 1,
        window: int = 10,
        tps: float | None = None,
        long_messages: Literal["udh", "sar", "payload"] = "udh",
        data_coding: Literal["gsm7", "latin1", "ucs2"] = "gsm7",
        registered_delivery: bool = True,
        *,
        bind_mode: Literal["transceiver", "transmitter_receiver"] = "transceiver",
        validity_seconds: int | None = None,
        receipt_ids: Literal["auto", "same", "dec_to_hex", "hex_to_dec"] = "auto",
        response_timeout: float = 10.0,
        enquire_link_interval: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect_min: float = 1.0,
        reconnect_max: float = 60.0,
        bind_wait: float = 5.0,
        receipt_linger: float = 0.05,
        receipt_hold: float = 10.0,
    ) -> None:
        if binds < 1 or window < 1:
            raise ValueError("binds and window must be at least 1")
        if bind_mode not in ("transceiver", "transmitter_receiver"):
            raise ValueError(f"unknown bind_mode {bind_mode!r}")
        self.name = name
        self.settings = SessionSettings(
            host=host,
            port=port,
            system_id=system_id,
            password=password,
            system_type=system_type,
            window=window,
            response_timeout=response_timeout,
            enquire_link_interval=enquire_link_interval,
            connect_timeout=connect_timeout,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
        )
        self.binds = binds
        self.bind_mode = bind_mode
        self.builder = SubmitBuilder(
            data_coding=DataCoding(data_coding),
            long_messages=LongMessages(long_messages),
            registered_delivery=registered_delivery,
            validity_seconds=validity_seconds,
        )
        self.pace = Pace(tps)
        self.ids = ReceiptIds(None if receipt_ids == "auto" else Conversion(receipt_ids))
        self.bind_wait = bind_wait
        self.receipt_linger = receipt_linger
        self.receipt_hold = receipt_hold
        self.sessions: list[Session] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._bound = asyncio.Event()
        self._sink: ReceiptSink | None = None
        # receipts and MO waiting to be recorded, each with the answer to its deliver_sm
        self._ready: list[tuple[Receipt, Ack]] = []
        self._held: list[tuple[float, ParsedReceipt, Ack]] = []
        self._first_ready_at = 0.0
        self._receipts_due = asyncio.Event()
        self._inbound: InboundSink | None = None
        self._mo_ready: list[tuple[InboundMessage, Ack]] = []
        self._mo_due = asyncio.Event()
        self._mo_task: asyncio.Task[None] | None = None
        self._log = log.bind(connector=name)

    # --- Connector protocol ---------------------------------------------------------------

    def set_inbound(self, sink: InboundSink) -> None:
        """Where inbound (MO) messages go; called before ``start``."""
        self._inbound = sink

    async def start(self, receipts: ReceiptSink) -> None:
        """Start the sessions and return; they bind (and rebind) in the background."""
        self._sink = receipts
        if self.bind_mode == "transceiver":
            roles = [Role.TRANSCEIVER] * self.binds
        else:
            roles = [Role.TRANSMITTER] * self.binds + [Role.RECEIVER]
        self.sessions = [
            Session(self.settings, role, f"{self.name}#{i}", self._on_deliver, self._on_state)
            for i, role in enumerate(roles)
        ]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(s.run()) for s in self.sessions]
        self._tasks.append(loop.create_task(self._report()))
        self._mo_task = loop.create_task(self._report_inbound())

    async def stop(self) -> None:
        """Record and answer what has arrived, unbind every session, then hand what is still
        held to the sinks (unanswered now, so the SMSC sends it again to the next bind)."""
        await self._record_ready()
        await asyncio.gather(*(s.stop() for s in self.sessions))
        runs, reporter = self._tasks[:-1], self._tasks[-1:]
        if runs:
            _, late = await asyncio.wait(runs, timeout=5.0)
            for task in late:
                task.cancel()
        for task in reporter:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        if self._mo_task is not None:
            self._mo_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mo_task
            self._mo_task = None
        self._release_held(force=True)
        await self._record_ready()

    async def _record_ready(self) -> None:
        """Hand the receipts and MO waiting to the sinks now, and answer them."""
        if self._ready and self._sink is not None:
            batch, self._ready = self._ready, []
            try:
                await self._sink([r for r, _ in batch])
            except Exception:
                self._log.exception("receipts not recorded at stop", count=len(batch))
            else:
                for _, ack in batch:
                    ack()
        if self._mo_ready and self._inbound is not None:
            mo, self._mo_ready = self._mo_ready, []
            try:
                await self._inbound([m for m, _ in mo])
            except Exception:
                self._log.exception("inbound messages not recorded at stop", count=len(mo))
            else:
                for _, ack in mo:
                    ack()

    async def submit(self, batch: Sequence[OutboundMessage]) -> list[SubmitResult]:
        results: list[SubmitResult | None] = [None] * len(batch)
        sendable: list[tuple[int, int, list[bytes]]] = []
        refused: list[tuple[int, int, PduError]] = []  # answered once a session is there
        for index, msg in enumerate(batch):
            try:
                bodies = self.builder.bodies(msg)
            except PduError as exc:  # a sender or number body() would refuse
                refused.append((index, msg.id, exc))
            except ValueError as exc:  # EncodeError, or a character gsm.encode refuses
                self._log.info("message not encodable", message_id=msg.id, error=str(exc))
                results[index] = SubmitResult(msg.id, Outcome.PERMANENT, error_code="smpp_encode")
            else:
                sendable.append((index, msg.id, bodies))
        if sendable or refused:
            sessions = await self._ready_sessions()
            if not sessions:
                for index, message_id, _ in sendable + refused:
                    results[index] = SubmitResult(
                        message_id, Outcome.TRANSIENT, error_code="smpp_not_bound"
                    )
                sendable = []
            for index, message_id, error in refused if sessions else ():
                self._log.info("message not encodable", message_id=message_id, error=str(error))
                results[index] = SubmitResult(
                    message_id, Outcome.PERMANENT, error_code="smpp_encode"
                )
            if sendable:
                loop = asyncio.get_running_loop()
                job = _Batch(self, results, len(sendable), loop)
                for index, message_id, bodies in sendable:
                    # the least loaded bind, counting the messages placed before this one
                    session = sessions[0] if len(sessions) == 1 else min(sessions, key=_load)
                    _Sending(job, index, message_id, bodies, session).start()
                if job.remaining:
                    await job.future
        return cast(list[SubmitResult], results)

    def recover(self, parts: Sequence[tuple[str, str]]) -> None:
        """Parts still waiting for a receipt (after a restart): their ids help learn how
        this SMSC writes ids in receipts."""
        self.ids.remember(uid for uid, _ in parts)

    @property
    def healthy(self) -> bool:
        """Routing fails over to the next connector while no bind can submit."""
        return any(s.can_submit for s in self.sessions)

    def health(self) -> dict[str, object]:
        return {
            "binds": len(self.sessions),
            "bound": sum(s.bound for s in self.sessions),
            "in_flight": sum(s.in_flight for s in self.sessions),
            "window": self.settings.window
            * sum(s.role is not Role.RECEIVER for s in self.sessions),
            "throttles": self.pace.throttles,
            "receipt_ids": self.ids.conversion or "learning",
            "last_error": next((s.last_error for s in self.sessions if s.last_error), None),
        }

    # --- submitting -----------------------------------------------------------------------

    def _on_state(self) -> None:
        if any(s.can_submit for s in self.sessions):
            self._bound.set()
        else:
            self._bound.clear()

    async def _ready_sessions(self) -> list[Session]:
        """The sessions that can submit, after waiting up to ``bind_wait`` for one."""
        if not self._bound.is_set():
            try:
                await asyncio.wait_for(self._bound.wait(), self.bind_wait)
            except TimeoutError:
                return []
        return [s for s in self.sessions if s.can_submit]

    def _upstream_id(self, raw: str) -> str:
        uid = self.ids.submitted(raw)
        if not uid:
            # No id, no receipt can match; a unique placeholder keeps the part apart.
            self._log.warning("submit_sm_resp without message_id")
            uid = f"noid-{uuid.uuid4().hex}"
        return uid

    # --- receipts -------------------------------------------------------------------------

    def _on_deliver(self, delivered: Delivered) -> None:
        """The deliver_sm of one read: receipts queued (one time of arrival for them all),
        the others answered or handed to ``_on_mo``."""
        at = None
        due = False
        for pdu, ack in delivered:
            try:
                if not is_receipt(pdu):
                    self._on_mo(pdu, ack)
                    continue
                parsed = parse_receipt(pdu)
                if parsed is None:
                    self._log.warning("receipt without a message id", esm_class=pdu.esm_class)
                    ack()
                    continue
                if parsed.status is None:
                    ack()
                    continue  # ACCEPTD, ENROUTE, UNKNOWN: not final
                uid = self.ids.receipt(parsed.message_id)
                if uid is None:
                    hold_until = asyncio.get_running_loop().time() + self.receipt_hold
                    self._held.append((hold_until, parsed, ack))
                else:
                    if at is None:
                        at = utcnow()
                    self._queue(uid, parsed, ack, at)
                due = True
            except Exception:
                self._log.exception("deliver_sm handler failed")
                ack()  # the same octets would fail again on a redelivery
        if due:
            self._receipts_due.set()

    def _on_mo(self, pdu: DeliverSm, ack: Ack) -> None:
        if self._inbound is None:
            self._log.info(
                "inbound message dropped: nothing receives MO",
                source=pdu.source_addr,
                destination=pdu.destination_addr,
            )
            ack()
            return
        self._mo_ready.append((inbound_message(self.name, pdu), ack))
        self._mo_due.set()

    async def _report_inbound(self) -> None:
        while True:
            await self._mo_due.wait()
            await asyncio.sleep(self.receipt_linger)
            self._mo_due.clear()
            batch, self._mo_ready = self._mo_ready, []
            if not batch or self._inbound is None:
                continue
            try:
                await self._inbound([m for m, _ in batch])
            except Exception:
                self._log.exception("inbound messages not recorded; retrying", count=len(batch))
                self._mo_ready[:0] = batch
                self._mo_due.set()
                await asyncio.sleep(1.0)
                continue
            for _, ack in batch:
                ack()

    def _queue(self, uid: str, parsed: ParsedReceipt, ack: Ack, at: datetime | None = None) -> None:
        assert parsed.status is not None
        if not self._ready:
            self._first_ready_at = asyncio.get_running_loop().time()
        receipt = Receipt(self.name, uid, parsed.status, parsed.error_code, at or utcnow())
        self._ready.append((receipt, ack))

    def _release_held(self, *, force: bool = False) -> None:
        if not self._held:
            return
        now = asyncio.get_running_loop().time()
        still: list[tuple[float, ParsedReceipt, Ack]] = []
        for deadline, parsed, ack in self._held:
            uid = self.ids.receipt(parsed.message_id)
            if uid is None and (force or now >= deadline):
                uid = self.ids.fallback(parsed.message_id)
                self._log.info("receipt id taken as is", upstream_id=uid)
            if uid is None:
                still.append((deadline, parsed, ack))
            else:
                self._queue(uid, parsed, ack)
        self._held = still

    async def _report(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._receipts_due.wait()
            start = self._first_ready_at if self._ready else loop.time()
            linger = start + self.receipt_linger - loop.time()
            if linger > 0:
                await asyncio.sleep(linger)
            self._receipts_due.clear()
            self._release_held()
            if self._held:
                self._receipts_due.set()  # look at them again after another linger
            batch, self._ready = self._ready, []
            if not batch or self._sink is None:
                continue
            try:
                await self._sink([r for r, _ in batch])
            except Exception:
                # Not recorded: keep them in front and try again shortly.
                self._log.exception("receipts not recorded; retrying", count=len(batch))
                self._ready[:0] = batch
                self._receipts_due.set()
                await asyncio.sleep(1.0)
                continue
            for _, ack in batch:
                ack()


def _load(session: Session) -> int:
    return session.load


class _Batch:
    """One ``submit`` call: a result per message, and the future its caller awaits."""

    __slots__ = ("conn", "future", "loop", "remaining", "results")

    def __init__(
        self,
        conn: SmppConnector,
        results: list[SubmitResult | None],
        remaining: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.conn = conn
        self.results = results
        self.remaining = remaining
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def finish(self, index: int, result: SubmitResult) -> None:
        self.results[index] = result
        self.remaining -= 1
        if not self.remaining and not self.future.done():
            self.future.set_result(None)


class _Sending:
    """One message on its way, without a Task: its parts in order on one session, each
    after the previous one was accepted. For each part a window place (``reserve``), then
    the pace, then submit_sm (``send_submit``), then its submit_sm_resp (``_answered``)
    gives the place back and decides. The callbacks run from the session's reads; a caller
    that gave up (its ``submit`` cancelled) only has its places given back."""

    __slots__ = ("batch", "bodies", "ids", "index", "message_id", "part", "retries", "session")

    def __init__(
        self, batch: _Batch, index: int, message_id: int, bodies: list[bytes], session: Session
    ) -> None:
        self.batch = batch
        self.index = index
        self.message_id = message_id
        self.bodies = bodies
        self.session = session
        self.part = self.retries = 0
        self.ids: tuple[str, ...] = ()

    def start(self) -> None:
        self.session.reserve(self._granted)

    def _granted(self) -> None:
        if self.batch.future.done():
            self.session.release()
            return
        delay = self.batch.conn.pace.reserve()
        if delay > 0:
            self.batch.loop.call_later(delay, self._paced)
        elif self.session.paused:
            self.session.when_writable(self._send)
        else:
            self._send()

    def _paced(self) -> None:
        self.session.when_writable(self._send)

    def _send(self) -> None:
        if self.batch.future.done():
            self.session.release()
            return
        try:
            self.session.send_submit(self.bodies[self.part], self._answered)
        except SessionClosed:
            self.session.release()
            self._transient("smpp_connection_lost")

    def _transient(self, code: str) -> None:
        result = SubmitResult(self.message_id, _TRANSIENT, error_code=code)
        self.batch.finish(self.index, result)

    def _answered(self, outcome: Pdu | Exception) -> None:
        session, batch = self.session, self.batch
        try:
            if type(outcome) is SubmitSmResp and outcome.status == _OK:  # the usual answer
                session.release()
                if batch.future.done():
                    return
                self.ids += (batch.conn._upstream_id(outcome.message_id),)
                self.part += 1
                if self.part < len(self.bodies):
                    self.retries = 0
                    session.reserve(self._granted)
                else:
                    batch.finish(self.index, SubmitResult(self.message_id, _SUBMITTED, self.ids))
                return
            self._otherwise(outcome)
        except Exception as exc:  # a bug: submit() raises, as a failed task made it raise
            batch.conn._log.exception("submit_sm answer not handled", message_id=self.message_id)
            if not batch.future.done():
                batch.future.set_exception(exc)

    def _otherwise(self, outcome: Pdu | Exception) -> None:
        """Every answer but an accepted part: a failure, a refusal or throttling."""
        session, batch = self.session, self.batch
        if isinstance(outcome, Exception):
            session.release()
            if isinstance(outcome, ResponseTimeout):
                code = "smpp_timeout"
            elif isinstance(outcome, BadResponse):
                code = "smpp_bad_response"
            else:
                code = "smpp_connection_lost"
            if not batch.future.done():
                self._transient(code)
            return
        status = outcome.status
        if status == _OK:  # a generic_nack with no error: nonsense
            session.release()
            if not batch.future.done():
                self._transient("smpp_bad_response")
            return
        code = f"smpp_{status:#04x}"
        if status in THROTTLING:
            batch.conn.pace.throttled()  # before the place goes to the next message
            session.release()
            if batch.future.done():
                return
            if self.part > 0 and self.retries < _PART_RETRIES:
                self.retries += 1
                session.reserve(self._granted)
            else:
                self._transient(code)
            return
        session.release()
        if batch.future.done():
            return
        if status in RETRYABLE:
            if status == _INVBNDSTS:
                session.abort()
            self._transient(code)
            return
        self.batch.finish(self.index, SubmitResult(self.message_id, _PERMANENT, error_code=code))
