"""One SMPP bind: connect, bind, keep alive, reconnect with backoff, until stopped.

    run() ─► connect (TCP_NODELAY) ─► bind ─► bound: reads + keepalive ─► connection ends
      ▲                                                                              │
      └──── wait backoff: reconnect_min doubling to reconnect_max, × random [0.5, 1], ◄┘
            back to reconnect_min after a bind that lasted 10 s

Requests meet their responses by sequence number in ``_pending``, which is in send order.
The keepalive tick (at most every second) fails requests older than ``response_timeout``
with ``ResponseTimeout``, oldest first, stopping at the first still in time, and sends
enquire_link every ``enquire_link_interval``; an unanswered enquire_link drops the
connection. When the connection ends, every pending request fails with ``SessionClosed``.

The hot path costs no Task and no Future per PDU (the event loop is shared with the HTTP
API): the connection is an ``asyncio.BufferedProtocol`` that reads straight into one
``FrameBuffer`` (no 256 KiB bytes object per read) and handles every PDU of a read in place,
decoded from one copy of the whole PDUs; a submit_sm_resp goes straight to the callback its
submit_sm was sent with (``send_submit``), and the deliver_sm of one read are handed over
together, as one list. What is written while a read or a loop turn
is handled leaves in one ``write``. Bind, unbind and enquire_link use ``request``/``send``,
which return a Future.

The window is counted here but taken by the caller (``reserve``/``release``, first come
first served, without a Future), so a caller can hold its window place while it waits for
the connector's throughput limit. deliver_sm is handed over with an ``ack`` that answers it
on the connection it came on; the handler calls it once the receipt or message is recorded
(after a reconnect the SMSC sends again what was never answered, so a crash before the
record loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, cast

import structlog

from smsgate.connectors.smpp.pdu import (
    HEADER,
    HEADER_SIZE,
    MAX_PDU_SIZE,
    RESPONSE_BIT,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FrameBuffer,
    FrameError,
    GenericNack,
    Pdu,
    PduError,
    Status,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnknownPdu,
    decode,
    encode,
    header,
)

__all__ = [
    "Ack",
    "Answer",
    "BadResponse",
    "BindRefused",
    "Delivered",
    "ResponseTimeout",
    "Role",
    "Session",
    "SessionClosed",
    "SessionSettings",
]

log = structlog.get_logger(__name__)

_HIGH_WATER = 1 << 20  # octets queued in the socket before senders wait
_STABLE = 10.0  # a bind that lasted this long resets the backoff
_SUBMIT_SM = int(CommandId.SUBMIT_SM)
_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM = int(CommandId.DELIVER_SM)
_DELIVER_SM_RESP = int(CommandId.DELIVER_SM_RESP)
_DELIVER_SM_RESP_OK = struct.Struct(">IIIIB")  # the header and an empty message_id

Ack = Callable[[], None]
Answer = Callable[[Pdu | Exception], None]  # gets a request's response, or why none came
Delivered = list[tuple[DeliverSm, Ack]]  # the deliver_sm of one read


class SessionClosed(ConnectionError):
    """The connection ended before the answer came."""


class ResponseTimeout(TimeoutError):
    """No answer within response_timeout."""


class BadResponse(Exception):
    """An answer whose body does not decode."""


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with command_status {status:#04x}")
        self.status = status


class Role(StrEnum):
    TRANSCEIVER = "transceiver"
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"


_BIND: dict[Role, type[BindTransceiver | BindTransmitter | BindReceiver]] = {
    Role.TRANSCEIVER: BindTransceiver,
    Role.TRANSMITTER: BindTransmitter,
    Role.RECEIVER: BindReceiver,
}


@dataclass(frozen=True, slots=True)
class SessionSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    response_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    connect_timeout: float = 10.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    max_pdu_size: int = MAX_PDU_SIZE


class _Link(asyncio.BufferedProtocol):
    """One TCP connection of a session. The socket reads straight into its ``FrameBuffer``
    (no bytes object per read); each read goes to ``Session._received``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.transport: asyncio.Transport | None = None
        self.frames = FrameBuffer(session.settings.max_pdu_size)
        # Done when the connection has ended; its exception says why.
        self.closed: asyncio.Future[None] = session._loop.create_future()
        self.paused = False  # more than _HIGH_WATER octets wait in the socket
        self._drain_waiters: list[asyncio.Future[None]] = []

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=_HIGH_WATER)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.frames.space()

    def buffer_updated(self, nbytes: int) -> None:
        self.session._received(self, nbytes)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # ``closing`` from now on
        self.end(exc or SessionClosed(f"{self.session.name}: connection closed by the SMSC"))
        self._wake_drain()
        self.session._lost(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.session._set_paused(self, True)

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_drain()
        self.session._set_paused(self, False)

    def end(self, why: BaseException) -> None:
        if not self.closed.done():
            self.closed.set_exception(why)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the socket has taken what was written (below the low-water mark)."""
        if self.closed.done():
            raise SessionClosed(f"{self.session.name}: connection ended")
        if not self.paused:
            return
        waiter: asyncio.Future[None] = self.session._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        if self.closed.done():
            raise SessionClosed(f"{self.session.name}: connection ended")

    def _wake_drain(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Session:
    def __init__(
        self,
        settings: SessionSettings,
        role: Role,
        name: str,
        on_deliver: Callable[[Delivered], None],
        on_state: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.role = role
        self.name = name
        self._on_deliver = on_deliver
        self._on_state = on_state
        self._free = settings.window  # window places not taken
        self._waiters: deque[Callable[[], None]] = deque()  # callers waiting for a place
        self._granting = False
        self._unwritable: deque[Callable[[], None]] = deque()  # sends waiting for a drain
        self.load = 0  # callers waiting for or holding a window place
        self.paused = False  # more than 1 MiB waits in the socket: submit_sm wait for it
        self.bound = False
        self.binds = 0
        self.last_error: str | None = None
        self._link: _Link | None = None
        self._pending: dict[int, tuple[Answer, float]] = {}
        self._out: list[bytes] = []
        self._reading = False  # inside _received: what is written leaves at its end
        self._seq = 0
        self._timeout = settings.response_timeout
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._log = log.bind(session=name)

    @property
    def can_submit(self) -> bool:
        return self.bound and self.role is not Role.RECEIVER

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def socket(self) -> socket.socket | None:
        """The connected socket (for tests and health checks)."""
        link = self._link
        if link is None or link.transport is None:
            return None
        sock: socket.socket | None = link.transport.get_extra_info("socket")
        return sock

    # --- window and requests --------------------------------------------------------------

    def reserve(self, granted: Callable[[], None]) -> None:
        """Call ``granted`` once a window place is the caller's: at once if one is free and
        nobody waits, else in turn (first come, first served) as places are released. The
        caller gives the place back with ``release``."""
        self.load += 1
        if self._free > 0 and not self._waiters and not self._granting:
            self._free -= 1
            granted()
        else:
            self._waiters.append(granted)
            self._grant()

    def release(self) -> None:
        self.load -= 1
        self._free += 1
        if self._waiters:
            self._grant()

    def _grant(self) -> None:
        # A loop, not recursion: a grant whose send fails at once releases at once.
        if self._granting:
            return
        self._granting = True
        try:
            while self._free > 0 and self._waiters:
                self._free -= 1
                self._waiters.popleft()()
        finally:
            self._granting = False

    def when_writable(self, then: Callable[[], None]) -> None:
        """Call ``then`` now, or once the socket has drained (or the connection ended)."""
        if self.paused:
            self._unwritable.append(then)
        else:
            then()

    def _set_paused(self, link: _Link, paused: bool) -> None:
        if link is self._link:
            self.paused = paused
            if not paused:
                self._run_unwritable()

    def _run_unwritable(self) -> None:
        while self._unwritable and not self.paused:
            self._unwritable.popleft()()

    def send_submit(self, body: bytes, answer: Answer) -> None:
        """Number and write one submit_sm with this body (``SubmitBuilder.bodies``);
        ``answer`` gets its response, or ResponseTimeout, BadResponse or SessionClosed, once.
        SessionClosed at once (and ``answer`` never) if there is no connection."""
        link = self._link
        if link is None or link.closing:
            raise SessionClosed(f"{self.name} is not connected")
        self._seq = seq = self._seq % 0x7FFFFFFF + 1
        self._pending[seq] = (answer, self._loop.time() + self._timeout)
        self._queue(HEADER.pack(HEADER_SIZE + len(body), _SUBMIT_SM, 0, seq) + body)

    def send(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        """Number and write a request; the future gets its response. PduError if the PDU
        does not encode (nothing is sent), SessionClosed if there is no connection."""
        link = self._link
        if link is None or link.closing:
            raise SessionClosed(f"{self.name} is not connected")
        self._seq = self._seq % 0x7FFFFFFF + 1
        pdu.sequence = self._seq
        data = encode(pdu)
        future: asyncio.Future[Pdu] = self._loop.create_future()
        self._pending[self._seq] = (partial(_resolve, future), self._loop.time() + self._timeout)
        self._queue(data)
        return future

    async def request(self, pdu: Pdu) -> Pdu:
        future = self.send(pdu)
        link = self._link
        if link is not None and link.paused:
            await link.drain()
        return await future

    # --- life cycle ------------------------------------------------------------------------

    async def run(self) -> None:
        delay = self.settings.reconnect_min
        while not self._stopping.is_set():
            bound_for = 0.0
            try:
                bound_for = await self._connection()
            except BindRefused as exc:
                self.last_error = f"bind_refused_{exc.status:#04x}"
                self._log.warning("bind refused", status=f"{exc.status:#04x}")
            except (OSError, TimeoutError, PduError, SessionClosed) as exc:
                self.last_error = type(exc).__name__
                if not self._stopping.is_set():
                    self._log.warning("connection failed", error=repr(exc))
            if self._stopping.is_set():
                break
            if bound_for >= _STABLE:
                delay = self.settings.reconnect_min
            wait = delay * random.uniform(0.5, 1.0)
            delay = min(delay * 2, self.settings.reconnect_max)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def _connection(self) -> float:
        """One connection, from connect to its end; returns how long it was bound."""
        s = self.settings
        transport, link = await asyncio.wait_for(
            self._loop.create_connection(lambda: _Link(self), s.host, s.port), s.connect_timeout
        )
        if self._stopping.is_set():  # stop() came while connecting
            transport.close()
            raise SessionClosed(f"{self.name} is stopping")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Without it, each small PDU after a receipt waits for the peer's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._link = link
        self.paused = False
        keepalive = self._loop.create_task(self._keepalive())
        try:
            resp = await self._bind(link)
            if resp.status != Status.OK:
                raise BindRefused(resp.status)
            bound_at = self._loop.time()
            self.binds += 1
            self._set_bound(True)
            self._log.info("bound", role=self.role.value, smsc=getattr(resp, "system_id", ""))
            try:
                await link.closed
            except (OSError, PduError, SessionClosed) as exc:
                self.last_error = type(exc).__name__
                if not self._stopping.is_set():
                    self._log.warning("connection lost", error=repr(exc))
        finally:
            keepalive.cancel()
            self._close()
            await _settle(keepalive)
            if not link.closed.cancelled():
                link.closed.exception()  # retrieved: why it ended was logged or raised
        return self._loop.time() - bound_at

    async def _bind(self, link: _Link) -> Pdu:
        """The bind response, or the reason the connection ended before it."""
        s = self.settings
        bind = _BIND[self.role](
            system_id=s.system_id, password=s.password, system_type=s.system_type
        )
        answer = self._loop.create_task(self.request(bind))
        either: set[asyncio.Future[Any]] = {link.closed, answer}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if answer.done():
            return answer.result()
        answer.cancel()
        await _settle(answer)
        link.closed.result()  # raises why the connection ended
        raise SessionClosed("connection ended before the bind response")

    async def stop(self, timeout: float = 2.0) -> None:
        """Unbind (if bound) and close; ``run`` returns."""
        self._stopping.set()
        if self.bound:
            with contextlib.suppress(SessionClosed, ResponseTimeout, TimeoutError, OSError):
                await asyncio.wait_for(self.request(Unbind()), timeout)
        self._close()

    def _set_bound(self, bound: bool) -> None:
        if self.bound != bound:
            self.bound = bound
            self._on_state()

    def _close(self) -> None:
        self._set_bound(False)
        self._flush()
        link, self._link = self._link, None
        self.paused = False
        if link is not None:
            link.end(SessionClosed(f"{self.name}: connection closed"))
            if link.transport is not None:
                link.transport.close()
        self._fail_pending(SessionClosed)
        self._run_unwritable()

    def abort(self) -> None:
        """Drop the connection at once (``run`` reconnects)."""
        link = self._link
        if link is not None and link.transport is not None:
            link.transport.abort()

    def _lost(self, link: _Link) -> None:
        if link is self._link:
            self.paused = False  # what waits for a drain fails at once
            self._fail_pending(SessionClosed)
            self._run_unwritable()

    def _drop(self, link: _Link, why: Exception) -> None:
        link.end(why)
        if link.transport is not None:
            link.transport.abort()
        self._lost(link)

    def _fail_pending(self, error: type[Exception]) -> None:
        pending, self._pending = self._pending, {}
        for answer, _ in pending.values():
            answer(error(f"{self.name}: connection ended"))

    # --- reading ---------------------------------------------------------------------------

    def _received(self, link: _Link, nbytes: int) -> None:
        """Every whole PDU of one read, handled in order where it lies in the buffer."""
        if link is not self._link:
            return  # a connection already given up
        frames = link.frames
        try:
            bounds = frames.filled(nbytes)
        except FrameError as exc:
            self._drop(link, exc)
            return
        if len(bounds) < 2:
            return
        buf = frames.take(bounds[-1])
        delivered: Delivered = []
        pending = self._pending
        unpack = HEADER.unpack_from
        self._reading = True
        try:
            start = 0
            for end in bounds[1:]:
                _, command_id, status, sequence = unpack(buf, start)
                if command_id == _SUBMIT_SM_RESP:
                    # message_id, the NUL forgiven (as SubmitSmResp.from_body), then TLVs
                    # of SMPP 5.0 ignored: this cannot fail to decode.
                    nul = buf.find(b"\x00", start + HEADER_SIZE, end)
                    message_id = buf[start + HEADER_SIZE : end if nul < 0 else nul]
                    resp = SubmitSmResp(sequence, status, message_id.decode("latin-1"))
                    entry = pending.pop(sequence, None)
                    if entry is not None:
                        entry[0](resp)
                    elif status == 0:  # ESME_ROK
                        self._late(sequence)
                elif command_id == _DELIVER_SM:
                    try:
                        pdu = DeliverSm.parse(buf, start + HEADER_SIZE, end, sequence, status)
                    except PduError as exc:
                        self._undecodable(buf[start:end], exc)
                    else:
                        delivered.append((pdu, self._acker(link, sequence)))
                else:
                    if delivered:  # in order with the PDU that follows them
                        self._deliver(delivered)
                        delivered = []
                    self._handle(buf[start:end])
                start = end
            if delivered:
                self._deliver(delivered)
        except Exception as exc:
            self._log.exception("handling a PDU failed; dropping the connection")
            self._drop(link, SessionClosed(f"{self.name}: {exc!r}"))
        finally:
            self._reading = False
            self._flush()

    def _write(self, pdu: Pdu) -> None:
        self._queue(encode(pdu))

    def _queue(self, data: bytes) -> None:
        # What is written during one read, or one turn of the event loop, leaves in one
        # send(): a read of 50 receipts is answered by one segment, not 50 system calls.
        out = self._out
        if not out and not self._reading:
            self._loop.call_soon(self._flush)
        out.append(data)

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        self._out = []
        link = self._link
        if link is not None:
            link.write(out[0] if len(out) == 1 else b"".join(out))

    def _deliver(self, delivered: Delivered) -> None:
        try:
            self._on_deliver(delivered)
        except Exception:
            self._log.exception("deliver_sm handler failed")
            for _, ack in delivered:
                ack()  # the same octets would fail again on a redelivery

    def _handle(self, frame: bytes) -> None:
        try:
            pdu = decode(frame)
        except PduError as exc:
            self._undecodable(frame, exc)
            return
        if isinstance(pdu, DeliverSm):  # not reached from _received, which decodes them
            self._deliver([(pdu, self._acker(self._link, pdu.sequence))])
        elif isinstance(pdu, EnquireLink):
            self._write(EnquireLinkResp(pdu.sequence))
        elif isinstance(pdu, Unbind):
            self._log.info("the SMSC unbinds")
            self._write(UnbindResp(pdu.sequence))
            self._set_bound(False)
            self._flush()
            link = self._link
            if link is not None and link.transport is not None:
                link.transport.close()  # after the unbind_resp has left
        elif _command_id(pdu) & RESPONSE_BIT:
            self._answer(pdu.sequence, pdu)
        else:
            self._log.info("request not supported", command_id=f"{_command_id(pdu):#010x}")
            self._write(GenericNack(pdu.sequence, Status.INVCMDID))

    def _acker(self, link: _Link | None, sequence: int) -> Ack:
        """Answers one deliver_sm, once, and only on the connection it came on: a new
        connection's sequence numbers mean other PDUs."""
        done = False

        def ack() -> None:
            nonlocal done
            if not done and link is not None and link is self._link:
                done = True
                self._queue(_DELIVER_SM_RESP_OK.pack(17, _DELIVER_SM_RESP, 0, sequence, 0))

        return ack

    def _answer(self, sequence: int, outcome: Pdu | Exception) -> None:
        entry = self._pending.pop(sequence, None)
        if entry is None:
            if isinstance(outcome, SubmitSmResp) and outcome.status == Status.OK:
                self._late(sequence)
            return
        entry[0](outcome)

    def _late(self, sequence: int) -> None:
        # Already reported transient after the timeout: the message goes again.
        self._log.warning("submit_sm_resp after the timeout", sequence=sequence)

    def _undecodable(self, frame: bytes, exc: PduError) -> None:
        command_id, _, sequence = header(frame)
        self._log.warning("undecodable PDU", command_id=f"{command_id:#010x}", error=str(exc))
        if command_id == CommandId.DELIVER_SM:
            # Refused for good: the same octets will not decode on a redelivery either.
            self._write(DeliverSmResp(sequence, Status.X_P_APPN))
        elif command_id & RESPONSE_BIT:
            self._answer(sequence, BadResponse(str(exc)))
        else:
            self._write(GenericNack(sequence, Status.INVCMDLEN))

    # --- keepalive -------------------------------------------------------------------------

    async def _keepalive(self) -> None:
        s = self.settings
        tick = max(0.01, min(1.0, s.response_timeout / 4, s.enquire_link_interval))
        last = self._loop.time()
        while True:
            await asyncio.sleep(tick)
            now = self._loop.time()
            self._reap(now)
            if self.bound and now - last >= s.enquire_link_interval:
                last = now
                try:
                    self.send(EnquireLink()).add_done_callback(self._enquire_answered)
                except SessionClosed:
                    return

    def _reap(self, now: float) -> None:
        expired = []
        for sequence, (_, deadline) in self._pending.items():
            if deadline > now:
                break
            expired.append(sequence)
        for sequence in expired:
            self._answer(sequence, ResponseTimeout(f"{self.name}: no response"))

    def _enquire_answered(self, future: asyncio.Future[Pdu]) -> None:
        if future.cancelled():
            return
        if isinstance(future.exception(), ResponseTimeout):
            self._log.warning("enquire_link unanswered; reconnecting")
            self.abort()


def _resolve(future: asyncio.Future[Pdu], outcome: Pdu | Exception) -> None:
    if future.done():  # the requester gave up (cancelled)
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _command_id(pdu: Pdu) -> int:
    return pdu.raw_command_id if isinstance(pdu, UnknownPdu) else pdu.command_id


async def _settle(*tasks: asyncio.Task[object]) -> None:
    """Wait for tasks we cancelled and collect their outcome, without swallowing a
    cancellation of the caller itself."""
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()
