"""One SMPP bind: connect, bind, keep alive, reconnect with backoff, until stopped.

    run() ─► connect (TCP_NODELAY) ─► bind ─► bound: read loop + keepalive ─► connection ends
      ▲                                                                              │
      └──── wait backoff: reconnect_min doubling to reconnect_max, × random [0.5, 1], ◄┘
            back to reconnect_min after a bind that lasted 10 s

Requests meet their responses by sequence number in ``_pending``, which is in send order.
The keepalive tick (at most every second) fails requests older than ``response_timeout``
with ``ResponseTimeout``, oldest first, stopping at the first still in time, and sends
enquire_link every ``enquire_link_interval``; an unanswered enquire_link drops the
connection. When the connection ends, every pending request fails with ``SessionClosed``.

The window is counted here but taken by the caller (``acquire``/``release``), so a caller
can hold its window place while it waits for the connector's throughput limit.
deliver_sm is handed over with an ``ack`` that answers it on the connection it came on; the
handler calls it once the receipt or message is recorded (after a reconnect the SMSC sends
again what was never answered, so a crash before the record loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

from smsgate.connectors.smpp.pdu import (
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
    "BadResponse",
    "BindRefused",
    "ResponseTimeout",
    "Role",
    "Session",
    "SessionClosed",
    "SessionSettings",
]

log = structlog.get_logger(__name__)

_READ_SIZE = 1 << 16
_HIGH_WATER = 1 << 20  # octets queued in the socket before a sender waits
_STABLE = 10.0  # a bind that lasted this long resets the backoff

Ack = Callable[[], None]


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


class Session:
    def __init__(
        self,
        settings: SessionSettings,
        role: Role,
        name: str,
        on_deliver: Callable[[DeliverSm, Ack], None],
        on_state: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.role = role
        self.name = name
        self._on_deliver = on_deliver
        self._on_state = on_state
        self._window = asyncio.Semaphore(settings.window)
        self.load = 0  # callers waiting for or holding a window place
        self.bound = False
        self.binds = 0
        self.last_error: str | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, tuple[asyncio.Future[Pdu], float]] = {}
        self._out: list[bytes] = []
        self._seq = 0
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
        if self._writer is None:
            return None
        sock: socket.socket | None = self._writer.get_extra_info("socket")
        return sock

    # --- window and requests --------------------------------------------------------------

    async def acquire(self) -> None:
        self.load += 1
        try:
            await self._window.acquire()
        except BaseException:
            self.load -= 1
            raise

    def release(self) -> None:
        self._window.release()
        self.load -= 1

    def send(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        """Number and write a request; the future gets its response. PduError if the PDU
        does not encode (nothing is sent), SessionClosed if there is no connection."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise SessionClosed(f"{self.name} is not connected")
        self._seq = self._seq % 0x7FFFFFFF + 1
        pdu.sequence = self._seq
        data = encode(pdu)
        future: asyncio.Future[Pdu] = self._loop.create_future()
        self._pending[self._seq] = (future, self._loop.time() + self.settings.response_timeout)
        self._queue(data)
        return future

    async def request(self, pdu: Pdu) -> Pdu:
        future = self.send(pdu)
        writer = self._writer
        if writer is not None and writer.transport.get_write_buffer_size() > _HIGH_WATER:
            try:
                await writer.drain()
            except ConnectionError as exc:
                raise SessionClosed(str(exc)) from exc
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
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(s.host, s.port), s.connect_timeout
        )
        if self._stopping.is_set():  # stop() came while connecting
            writer.close()
            raise SessionClosed(f"{self.name} is stopping")
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Without it, each small PDU after a receipt waits for the peer's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer = writer
        reading = self._loop.create_task(self._read(reader))
        keepalive = self._loop.create_task(self._keepalive())
        try:
            resp = await self._bind(reading)
            if resp.status != Status.OK:
                raise BindRefused(resp.status)
            bound_at = self._loop.time()
            self.binds += 1
            self._set_bound(True)
            self._log.info("bound", role=self.role.value, smsc=getattr(resp, "system_id", ""))
            try:
                await reading
            except (OSError, PduError, SessionClosed) as exc:
                self.last_error = type(exc).__name__
                if not self._stopping.is_set():
                    self._log.warning("connection lost", error=repr(exc))
        finally:
            keepalive.cancel()
            reading.cancel()
            self._close()
            await _settle(reading, keepalive)
        return self._loop.time() - bound_at

    async def _bind(self, reading: asyncio.Task[None]) -> Pdu:
        """The bind response, or the reason the connection ended before it."""
        s = self.settings
        bind = _BIND[self.role](
            system_id=s.system_id, password=s.password, system_type=s.system_type
        )
        answer = self._loop.create_task(self.request(bind))
        await asyncio.wait({reading, answer}, return_when=asyncio.FIRST_COMPLETED)
        if answer.done():
            return answer.result()
        answer.cancel()
        await _settle(answer)
        reading.result()  # raises why the connection ended
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
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._fail_pending(SessionClosed)

    def abort(self) -> None:
        """Drop the connection at once (``run`` reconnects)."""
        if self._writer is not None:
            self._writer.transport.abort()

    def _fail_pending(self, error: type[Exception]) -> None:
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(error(f"{self.name}: connection ended"))

    # --- reading ---------------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frames = FrameBuffer(self.settings.max_pdu_size)
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    raise SessionClosed(f"{self.name}: connection closed by the SMSC")
                for frame in frames.feed(data):
                    self._handle(frame)
        finally:
            self._fail_pending(SessionClosed)

    def _write(self, pdu: Pdu) -> None:
        self._queue(encode(pdu))

    def _queue(self, data: bytes) -> None:
        # PDUs written during one turn of the event loop leave in one send(): a read of 50
        # receipts is answered by one segment, not 50 system calls.
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        writer = self._writer
        if out and writer is not None and not writer.is_closing():
            writer.write(b"".join(out))

    def _handle(self, frame: bytes) -> None:
        try:
            pdu = decode(frame)
        except PduError as exc:
            self._undecodable(frame, exc)
            return
        if isinstance(pdu, DeliverSm):
            ack = self._acker(pdu.sequence)
            try:
                self._on_deliver(pdu, ack)
            except Exception:
                self._log.exception("deliver_sm handler failed")
                ack()  # the same octets would fail again on a redelivery
        elif isinstance(pdu, EnquireLink):
            self._write(EnquireLinkResp(pdu.sequence))
        elif isinstance(pdu, Unbind):
            self._log.info("the SMSC unbinds")
            self._write(UnbindResp(pdu.sequence))
            self._set_bound(False)
            self._flush()
            if self._writer is not None:
                self._writer.close()  # after the unbind_resp has left
        elif _command_id(pdu) & RESPONSE_BIT:
            self._answer(pdu.sequence, pdu)
        else:
            self._log.info("request not supported", command_id=f"{_command_id(pdu):#010x}")
            self._write(GenericNack(pdu.sequence, Status.INVCMDID))

    def _acker(self, sequence: int) -> Ack:
        """Answers one deliver_sm, once, and only on the connection it came on: a new
        connection's sequence numbers mean other PDUs."""
        writer = self._writer
        done = False

        def ack() -> None:
            nonlocal done
            if not done and writer is not None and writer is self._writer:
                done = True
                self._write(DeliverSmResp(sequence))

        return ack

    def _answer(self, sequence: int, outcome: Pdu | Exception) -> None:
        entry = self._pending.pop(sequence, None)
        if entry is None:
            if isinstance(outcome, SubmitSmResp) and outcome.status == Status.OK:
                # Already reported transient after the timeout: the message goes again.
                self._log.warning("submit_sm_resp after the timeout", sequence=sequence)
            return
        future = entry[0]
        if future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

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


def _command_id(pdu: Pdu) -> int:
    return pdu.raw_command_id if isinstance(pdu, UnknownPdu) else pdu.command_id


async def _settle(*tasks: asyncio.Task[object]) -> None:
    """Wait for tasks we cancelled and collect their outcome, without swallowing a
    cancellation of the caller itself."""
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()
