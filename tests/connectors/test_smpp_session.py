"""Session's reading and writing without sockets: a fake transport under the real protocol.

What a read does must not depend on where TCP cut the stream, and a read of many PDUs is
handled in one go, its answers leaving in one write."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from smsgate.connectors.smpp import pdu as p
from smsgate.connectors.smpp.session import (
    Ack,
    Delivered,
    Role,
    Session,
    SessionClosed,
    SessionSettings,
    _Link,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Harness:
    """A bound session on a fake transport, recording what it hands over."""

    def __init__(self, window: int = 10) -> None:
        self.delivered: list[tuple[p.DeliverSm, Ack]] = []
        self.reads_delivered: list[int] = []  # how many deliver_sm each hand-over held
        settings = SessionSettings("127.0.0.1", 1, "u", "p", window=window)
        self.session = Session(settings, Role.TRANSCEIVER, "s#0", self._on_deliver, lambda: None)
        self.link = _Link(self.session)
        self.transport = FakeTransport()
        self.link.connection_made(self.transport)
        self.session._link = self.link
        self.session._set_bound(True)
        self.answers: dict[int, list[p.Pdu | Exception]] = {}

    def _on_deliver(self, delivered: Delivered) -> None:
        self.reads_delivered.append(len(delivered))
        self.delivered += delivered

    def submit(self, body: bytes = b"body") -> int:
        """send_submit, recording the answers; returns the sequence number used."""
        seq = self.session._seq % 0x7FFFFFFF + 1
        self.answers[seq] = []
        self.session.send_submit(body, self.answers[seq].append)
        return seq

    def read(self, data: bytes) -> None:
        """One read of the socket, as asyncio's BufferedProtocol path does it."""
        room = self.link.get_buffer(-1)
        room[: len(data)] = data
        self.link.buffer_updated(len(data))

    def written(self) -> list[bytes]:
        """Every PDU written, in order, cut out of the writes."""
        return p.FrameBuffer().feed(b"".join(self.transport.writes))


def _receipt(seq: int, mid: str) -> bytes:
    return p.encode(
        p.DeliverSm(
            seq,
            source_addr="37120000000",
            esm_class=0x04,
            short_message=f"id:{mid} stat:DELIVRD err:000 text:x".encode(),
            tlvs={p.Tag.RECEIPTED_MESSAGE_ID: mid.encode() + b"\x00"},
        )
    )


STREAM = b"".join(
    [
        p.encode(p.SubmitSmResp(1, 0, "0A1b")),
        _receipt(900, "0a1b"),
        p.encode(p.EnquireLink(901)),
        p.encode(p.SubmitSmResp(2, 0x58)),
        _receipt(902, "beef"),
        p.encode(p.DeliverSm(903, esm_class=0x04, short_message=b"\x01")),  # no id
        p.encode(p.SubmitSmResp(777, 0, "late")),  # nobody waits for it any more
    ]
)


def _scenario(chunks: list[bytes]) -> tuple[object, ...]:
    """Two submit_sm out, then STREAM read in these chunks, then every deliver_sm acked."""

    async def go() -> tuple[object, ...]:
        h = Harness()
        assert (h.submit(b"one"), h.submit(b"two")) == (1, 2)
        await asyncio.sleep(0)  # the submit_sm leave
        for chunk in chunks:
            h.read(chunk)
        for _, ack in h.delivered:
            ack()
            ack()  # once only
        await asyncio.sleep(0)
        return h.answers, [pdu for pdu, _ in h.delivered], h.written(), h.session.in_flight

    return run(go())


def test_every_split_of_the_stream_is_handled_the_same() -> None:
    whole = _scenario([STREAM])
    answers, delivered, written, in_flight = whole
    assert answers == {1: [p.SubmitSmResp(1, 0, "0A1b")], 2: [p.SubmitSmResp(2, 0x58, "")]}
    assert delivered == [
        p.decode(_receipt(900, "0a1b")),
        p.decode(_receipt(902, "beef")),
        p.DeliverSm(903, esm_class=0x04, short_message=b"\x01"),
    ]
    assert written == [
        p.HEADER.pack(19, 4, 0, 1) + b"one",
        p.HEADER.pack(19, 4, 0, 2) + b"two",
        p.encode(p.EnquireLinkResp(901)),
        *(p.encode(p.DeliverSmResp(seq)) for seq in (900, 902, 903)),
    ]
    assert in_flight == 0
    for cut in range(len(STREAM) + 1):
        assert _scenario([STREAM[:cut], STREAM[cut:]]) == whole, cut
    assert _scenario([STREAM[i : i + 1] for i in range(len(STREAM))]) == whole


def test_submit_sm_and_deliver_sm_resp_octets() -> None:
    async def go() -> None:
        h = Harness()
        h.submit(b"\x00\x05\x00Acme\x00")
        await asyncio.sleep(0)
        h.read(_receipt(0x01020304, "ab"))
        ((_, ack),) = h.delivered
        ack()
        await asyncio.sleep(0)
        submit, resp = h.transport.writes
        assert submit == p.HEADER.pack(16 + 8, 4, 0, 1) + b"\x00\x05\x00Acme\x00"
        assert resp == p.encode(p.DeliverSmResp(0x01020304))

    run(go())


def test_many_pdus_in_one_read_are_handed_over_and_answered_at_once() -> None:
    async def go() -> None:
        h = Harness(window=1000)
        seqs = [h.submit() for _ in range(500)]
        await asyncio.sleep(0)
        h.transport.writes.clear()
        receipts = [_receipt(10_000 + n, f"{n:x}") for n in range(300)]
        resps = [p.encode(p.SubmitSmResp(seq, 0, f"{seq:x}")) for seq in seqs]
        for seq in seqs:  # each answer sends the next submit_sm at once, as the connector does
            h.answers[seq] = []
            h.session._pending[seq] = (
                lambda outcome, s=seq: (h.answers[s].append(outcome), h.submit(b"next")),
                1e18,
            )
        h.read(b"".join(resps + receipts))
        assert [len(h.answers[s]) for s in seqs] == [1] * 500
        assert h.reads_delivered == [300]  # one hand-over for the read
        assert len(h.transport.writes) == 1  # 500 new submit_sm, one write, before any turn
        assert len(h.written()) == 500
        for _, ack in h.delivered:
            ack()
        await asyncio.sleep(0)
        assert len(h.transport.writes) == 2  # and 300 deliver_sm_resp in one more

    run(go())


def test_an_ack_answers_only_on_its_own_connection() -> None:
    async def go() -> None:
        h = Harness()
        h.read(_receipt(5, "ab"))
        ((_, ack),) = h.delivered
        h.session._close()  # the connection ends before the receipt is recorded
        assert isinstance(h.link.closed.exception(), SessionClosed)
        h.session._link = _Link(h.session)  # a new one: its sequence numbers mean other PDUs
        new = FakeTransport()
        h.session._link.connection_made(new)
        ack()
        await asyncio.sleep(0)
        assert new.writes == []

    run(go())


def test_a_connection_lost_fails_what_waits_and_refuses_new_submit_sm() -> None:
    async def go() -> None:
        h = Harness()
        seq = h.submit()
        h.link.connection_lost(None)
        (outcome,) = h.answers[seq]
        assert isinstance(outcome, SessionClosed)
        try:
            h.submit()
        except SessionClosed:
            pass
        else:
            raise AssertionError("submit_sm on a lost connection")
        assert h.link.closed.done()
        assert isinstance(h.link.closed.exception(), SessionClosed)

    run(go())


def test_the_window_is_first_come_first_served() -> None:
    async def go() -> None:
        h = Harness(window=2)
        order: list[int] = []
        for n in range(5):
            h.session.reserve(lambda n=n: order.append(n))
        assert (order, h.session.load) == ([0, 1], 5)
        h.session.release()
        h.session.release()
        assert order == [0, 1, 2, 3]
        h.session.release()
        h.session.release()
        h.session.release()
        assert (order, h.session.load, h.session._free) == ([0, 1, 2, 3, 4], 0, 2)

    run(go())
