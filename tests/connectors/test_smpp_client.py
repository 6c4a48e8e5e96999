"""SmppConnector against the fake SMSCs, one failure mode per test."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt
from smsgate.connectors.smpp import SmppConnector
from smsgate.connectors.smpp.ids import Conversion
from smsgate.connectors.smpp.pdu import Tag
from smsgate.messaging.segments import count_segments
from smsgate.messaging.status import MessageStatus
from tests.connectors import fake_smsc
from tests.connectors.fake_smsc import FakeSmsc, Submitted

T = TypeVar("T")
LONG = "Long message " * 30  # 390 GSM characters: 3 parts
LONG_UCS2 = "Длинное сообщение " * 10  # 180 UCS-2 characters: 3 parts


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def message(n: int, text: str = "hello", sender: str = "Acme") -> OutboundMessage:
    seg = count_segments(text)
    return OutboundMessage(n, f"3712000{n:04d}", sender, text, seg.parts, seg.encoding.value)


class Sink:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.batches: list[int] = []
        self.times: list[float] = []

    async def __call__(self, batch: Sequence[Receipt]) -> None:
        self.batches.append(len(batch))
        self.receipts.extend(batch)
        self.times.append(asyncio.get_running_loop().time())

    async def wait(self, count: int, timeout: float = 5.0) -> list[Receipt]:
        await until(lambda: len(self.receipts) >= count, timeout)
        return self.receipts


async def until(probe: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not probe():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def connected(
    smsc: FakeSmsc, *, wait_bound: bool = True, **options: Any
) -> AsyncIterator[tuple[SmppConnector, Sink]]:
    settings: dict[str, Any] = {
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "response_timeout": 2.0,
        "bind_wait": 2.0,
    }
    settings.update(options)
    conn = SmppConnector("up", "127.0.0.1", smsc.port, "user", "secret", **settings)
    sink = Sink()
    await conn.start(sink)
    try:
        if wait_bound:
            await until(lambda: all(s.bound for s in conn.sessions))
        yield conn, sink
    finally:
        await conn.stop()


def ids_of(results: Sequence[Any]) -> list[str]:
    return [uid for r in results for uid in r.upstream_ids]


def test_happy_path_with_text_receipts() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy("text") as smsc, connected(smsc) as (conn, sink):
            batch = [message(n, [f"hi {n}", LONG, LONG_UCS2][n % 3]) for n in range(1, 31)]
            results = await conn.submit(batch)
            assert [r.message_id for r in results] == [m.id for m in batch]
            assert {r.outcome for r in results} == {Outcome.SUBMITTED}
            assert [len(r.upstream_ids) for r in results] == [m.parts for m in batch]
            sent = ids_of(results)
            assert len(set(sent)) == len(sent) == sum(m.parts for m in batch)
            receipts = await sink.wait(len(sent))
            assert sorted(r.upstream_id for r in receipts) == sorted(sent)
            assert {(r.connector, r.status, r.error_code) for r in receipts} == {
                ("up", MessageStatus.DELIVERED, None)
            }
            assert len(sink.batches) < len(receipts) / 5  # gathered, not one call each
            await until(lambda: len(smsc.deliver_resps) == smsc.deliver_sent)
            assert {r.status for r in smsc.deliver_resps} == {0}
            sock = conn.sessions[0].socket()
            assert sock is not None
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            bind = smsc.binds[0][1]
            assert (bind.command_id, bind.system_id, bind.password) == (0x09, "user", "secret")
            assert bind.interface_version == 0x34

    run(scenario())


@pytest.mark.parametrize("form", ["text", "tlv", "both"])
def test_receipt_states_and_error_codes(form: fake_smsc.ReceiptForm) -> None:
    outcomes = {
        0: ("DELIVRD", "000"),
        1: ("UNDELIV", "034"),
        2: ("REJECTD", "000"),
        3: ("EXPIRED", "000"),
        4: ("ENROUTE", "000"),  # intermediate: not reported
    }

    def stat(sub: Submitted) -> tuple[str, str]:
        return outcomes[sub.n % 5]

    async def scenario() -> None:
        smsc = fake_smsc.happy(form, receipt_stat=stat)
        async with smsc, connected(smsc, window=1) as (conn, sink):
            results = await conn.submit([message(n) for n in range(1, 11)])
            receipts = await sink.wait(8)
            await asyncio.sleep(0.1)
            assert len(sink.receipts) == 8
            by_id = {r.upstream_id: r for r in receipts}
            undeliv = "smpp_undeliv:net3_34" if form == "tlv" else "smpp_undeliv:034"
            expected = {
                0: (MessageStatus.DELIVERED, None),
                1: (MessageStatus.UNDELIVERABLE, undeliv),
                2: (MessageStatus.REJECTED, "smpp_rejectd"),
                3: (MessageStatus.UNDELIVERABLE, "smpp_expired"),
            }
            for n, result in enumerate(results, 1):
                (uid,) = result.upstream_ids
                if n % 5 == 4:
                    assert uid not in by_id
                else:
                    assert (by_id[uid].status, by_id[uid].error_code) == expected[n % 5]

    run(scenario())


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (0x0B, Outcome.PERMANENT, "smpp_0x0b"),
        (0x45, Outcome.PERMANENT, "smpp_0x45"),
        (0x14, Outcome.TRANSIENT, "smpp_0x14"),
        (0x08, Outcome.TRANSIENT, "smpp_0x08"),
    ],
)
def test_error_on_submit(status: int, outcome: Outcome, code: str) -> None:
    async def scenario() -> None:
        async with fake_smsc.error_on_submit(status) as smsc, connected(smsc) as (conn, _):
            results = await conn.submit([message(1), message(2, LONG)])
            assert [(r.outcome, r.error_code, r.upstream_ids) for r in results] == [
                (outcome, code, ())
            ] * 2
            # a long message stops at its first refused part
            assert len(smsc.submits) == 2

    run(scenario())


def test_message_that_cannot_be_encoded_is_rejected() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy() as smsc, connected(smsc) as (conn, _):
            results = await conn.submit([message(1, sender="Ünïcode sendér €")])
            assert (results[0].outcome, results[0].error_code) == (
                Outcome.PERMANENT,
                "smpp_encode",
            )
            assert smsc.submits == []

    run(scenario())


def test_no_response_fills_the_window_then_times_out() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.no_response()
        async with smsc, connected(smsc, window=3, response_timeout=0.3) as (conn, _):
            started = asyncio.get_running_loop().time()
            task = asyncio.ensure_future(conn.submit([message(n) for n in range(1, 6)]))
            await asyncio.sleep(0.15)
            assert len(smsc.submits) == 3  # the window is full
            results = await task
            elapsed = asyncio.get_running_loop().time() - started
            assert [(r.outcome, r.error_code) for r in results] == [
                (Outcome.TRANSIENT, "smpp_timeout")
            ] * 5
            assert len(smsc.submits) == 5
            assert 0.5 < elapsed < 1.5  # two rounds of the timeout

    run(scenario())


def test_bind_refused_backs_off_and_recovers() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.bind_refused(3)
        async with smsc, connected(smsc, reconnect_min=0.05, reconnect_max=1.0) as (conn, _):
            assert len(smsc.binds) == 4
            gaps = [b[0] - a[0] for a, b in zip(smsc.binds, smsc.binds[1:], strict=False)]
            assert gaps[2] > gaps[0]  # 0.2 x [0.5, 1] after 0.05 x [0.5, 1]
            results = await conn.submit([message(1)])
            assert results[0].outcome is Outcome.SUBMITTED

    run(scenario())


def test_never_bound_gives_transient_and_no_crash() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.bind_refused(1000)
        options = {"wait_bound": False, "bind_wait": 0.3}
        async with smsc, connected(smsc, **options) as (conn, _):
            results = await conn.submit([message(1), message(2)])
            assert {(r.outcome, r.error_code) for r in results} == {
                (Outcome.TRANSIENT, "smpp_not_bound")
            }
            assert len(smsc.binds) >= 2
            assert str(conn.health()["last_error"]).startswith("bind_refused_0x0d")

    run(scenario())


def test_smsc_down_gives_transient() -> None:
    async def scenario() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # nothing listens once closed
        conn = SmppConnector("up", "127.0.0.1", port, "u", "p", bind_wait=0.2, reconnect_min=0.05)
        await conn.start(Sink())
        results = await conn.submit([message(1)])
        await conn.stop()
        assert results[0].error_code == "smpp_not_bound"

    run(scenario())


def test_throttled_messages_are_transient_and_the_connector_slows_down() -> None:
    async def scenario() -> None:
        async with fake_smsc.throttling(3) as smsc, connected(smsc, window=1) as (conn, _):
            loop = asyncio.get_running_loop()
            started = loop.time()
            results = await conn.submit([message(n) for n in range(1, 7)])
            assert [(r.outcome, r.error_code) for r in results] == [
                (Outcome.TRANSIENT, "smpp_0x58")
            ] * 3 + [(Outcome.SUBMITTED, None)] * 3
            assert conn.pace.throttles == 3
            assert loop.time() - started >= 0.1 + 0.2 + 0.4 - 0.05  # pauses double

    run(scenario())


def test_throttled_later_part_is_retried_in_place() -> None:
    async def scenario() -> None:
        async with fake_smsc.throttling_at({2}) as smsc, connected(smsc) as (conn, _):
            (result,) = await conn.submit([message(1, LONG)])
            assert result.outcome is Outcome.SUBMITTED
            assert len(result.upstream_ids) == 3
            assert [s.concat[2] for s in smsc.submits if s.concat] == [1, 2, 2, 3]

    run(scenario())


def test_disconnect_in_the_middle_of_a_window() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.disconnect_mid_window(after=4)
        async with smsc, connected(smsc, window=10) as (conn, sink):
            results = await conn.submit([message(n) for n in range(1, 11)])
            outcomes = [(r.outcome, r.error_code) for r in results]
            assert (
                outcomes
                == [(Outcome.SUBMITTED, None)] * 4
                + [(Outcome.TRANSIENT, "smpp_connection_lost")] * 6
            )
            again = await conn.submit([message(n) for n in range(11, 14)])
            assert {r.outcome for r in again} == {Outcome.SUBMITTED}
            assert smsc.connections == 2
            await sink.wait(3)

    run(scenario())


@pytest.mark.parametrize("receipt_ids", ["same", "auto"])
def test_receipt_before_submit_sm_resp(receipt_ids: str) -> None:
    async def scenario() -> None:
        smsc = fake_smsc.receipts_before_resp(resp_delay=0.3)
        async with smsc, connected(smsc, receipt_ids=receipt_ids) as (conn, sink):
            (result,) = await conn.submit([message(1)])
            finished = asyncio.get_running_loop().time()
            (receipt,) = await sink.wait(1)
            assert receipt.upstream_id == result.upstream_ids[0]
            if receipt_ids == "same":
                assert sink.times[0] < finished  # reported before submit returned
            else:
                # "a0000001" also reads as a hex number: held until the resp tells
                assert sink.times[0] >= finished - 0.01

    run(scenario())


@pytest.mark.parametrize("long_messages", ["udh", "sar"])
def test_receipts_of_parts_out_of_order(long_messages: str) -> None:
    async def scenario() -> None:
        smsc = fake_smsc.parts_out_of_order()
        async with smsc, connected(smsc, long_messages=long_messages) as (conn, sink):
            results = await conn.submit([message(n, LONG) for n in range(1, 6)])
            assert [len(r.upstream_ids) for r in results] == [3] * 5
            receipts = await sink.wait(15)
            order = [r.upstream_id for r in receipts]
            assert sorted(order) == sorted(ids_of(results))
            for r in results:
                first, _, last = r.upstream_ids
                assert order.index(last) < order.index(first)
            by_ref: dict[int, list[tuple[int, int]]] = {}
            for sub in smsc.submits:
                assert sub.concat is not None
                ref, total, seq = sub.concat
                by_ref.setdefault(ref, []).append((total, seq))
                if long_messages == "udh":
                    assert sub.pdu.esm_class == 0x40
                    assert sub.pdu.short_message[:3] == b"\x05\x00\x03"
                else:
                    assert sub.pdu.esm_class == 0
                    assert Tag.SAR_MSG_REF_NUM in sub.pdu.tlvs
            assert sorted(by_ref.values()) == [[(3, 1), (3, 2), (3, 3)]] * 5

    run(scenario())


def test_hex_resp_ids_and_decimal_receipts_match() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.hex_resp_decimal_receipts()
        async with smsc, connected(smsc) as (conn, sink):
            results = await conn.submit([message(n) for n in range(1, 13)])
            sent = ids_of(results)
            assert all(uid == uid.lower() and not uid.startswith("0") for uid in sent)
            assert sent[0] == format(0x0A000000 + 7919, "x")
            receipts = await sink.wait(len(sent))
            assert sorted(r.upstream_id for r in receipts) == sorted(sent)
            assert conn.ids.conversion is Conversion.DEC_TO_HEX

    run(scenario())


def test_payload_mode_sends_one_pdu() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.happy()
        async with smsc, connected(smsc, long_messages="payload") as (conn, sink):
            (result,) = await conn.submit([message(1, LONG)])
            assert len(result.upstream_ids) == 1
            (sub,) = smsc.submits
            assert sub.pdu.short_message == b""
            assert sub.pdu.tlvs[Tag.MESSAGE_PAYLOAD] == LONG.encode("ascii")
            await sink.wait(1)

    run(scenario())


def test_inbound_message_is_answered_and_ignored() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy() as smsc, connected(smsc) as (_, sink):
            smsc.send_mo("STOP")
            await until(lambda: len(smsc.deliver_resps) == 1)
            assert smsc.deliver_resps[0].status == 0
            await asyncio.sleep(0.1)
            assert sink.receipts == []

    run(scenario())


def test_unsupported_and_undecodable_requests_are_refused() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy() as smsc, connected(smsc) as (conn, _):
            smsc.send_raw(struct.pack(">IIII", 16, 0x103, 0, 41))  # data_sm: not spoken
            smsc.send_raw(struct.pack(">IIII", 20, 0x05, 0, 42) + b"\x00\x01\x01x")  # cut short
            await until(lambda: smsc.nacks and smsc.deliver_resps)
            assert (smsc.nacks[0].sequence, smsc.nacks[0].status) == (41, 0x03)
            resp = smsc.deliver_resps[0]
            assert (resp.sequence, resp.status) == (42, 0x65)
            assert conn.sessions[0].bound  # the session goes on

    run(scenario())


def test_receipts_the_sink_failed_to_record_are_offered_again() -> None:
    class FlakySink(Sink):
        failures = 1

        async def __call__(self, batch: Sequence[Receipt]) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("database is down")
            await super().__call__(batch)

    async def scenario() -> None:
        async with fake_smsc.happy() as smsc:
            conn = SmppConnector("up", "127.0.0.1", smsc.port, "u", "p")
            sink = FlakySink()
            await conn.start(sink)
            try:
                results = await conn.submit([message(1), message(2)])
                await sink.wait(2, timeout=3.0)
                assert sorted(r.upstream_id for r in sink.receipts) == sorted(ids_of(results))
            finally:
                await conn.stop()

    run(scenario())


def test_a_bad_length_drops_the_connection_and_it_comes_back() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy() as smsc, connected(smsc) as (conn, _):
            smsc.send_raw(struct.pack(">I", 0xFFFFFFF0) + b"garbage")
            await until(lambda: smsc.connections == 2 and conn.sessions[0].bound)
            (result,) = await conn.submit([message(1)])
            assert result.outcome is Outcome.SUBMITTED

    run(scenario())


def test_enquire_link_keeps_the_link_and_detects_a_dead_one() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.happy()
        async with smsc, connected(smsc, enquire_link_interval=0.1) as _:
            await asyncio.sleep(0.35)
            assert smsc.enquire_links >= 2
            assert smsc.connections == 1
        dead = FakeSmsc(answer_enquire_link=False)
        options = {"enquire_link_interval": 0.05, "response_timeout": 0.2}
        async with dead, connected(dead, **options):
            await until(lambda: dead.connections >= 2, timeout=3.0)

    run(scenario())


def test_throughput_limit_in_parts_a_second() -> None:
    async def scenario() -> None:
        async with fake_smsc.happy() as smsc, connected(smsc, tps=50) as (conn, _):
            loop = asyncio.get_running_loop()
            started = loop.time()
            await conn.submit([message(1, LONG)] + [message(n) for n in range(2, 20)])
            elapsed = loop.time() - started
            # 21 parts at 50 a second, with a burst of 5: 16 intervals of 20 ms
            assert 0.3 <= elapsed < 0.6

    run(scenario())


def test_several_binds_share_the_load_and_stop_unbinds() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.happy(resp_delay=0.02)
        async with smsc:
            async with connected(smsc, binds=3, window=2) as (conn, _):
                results = await conn.submit([message(n) for n in range(1, 31)])
                assert {r.outcome for r in results} == {Outcome.SUBMITTED}
                assert {s.connection for s in smsc.submits} == {1, 2, 3}
                assert conn.health()["bound"] == 3
            assert smsc.unbinds == 3

    run(scenario())


def test_concurrent_submits_share_the_window_and_never_exceed_it() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.happy(resp_delay=0.01)
        async with smsc, connected(smsc, window=3) as (conn, sink):
            session = conn.sessions[0]
            most = 0

            async def watch() -> None:
                nonlocal most
                while True:
                    most = max(most, session.in_flight)
                    await asyncio.sleep(0.001)

            watcher = asyncio.ensure_future(watch())
            first, second = await asyncio.gather(
                conn.submit([message(n) for n in range(1, 21)]),
                conn.submit([message(n, LONG) for n in range(21, 31)]),
            )
            watcher.cancel()
            assert {r.outcome for r in first + second} == {Outcome.SUBMITTED}
            assert most == 3
            assert (session.in_flight, session.load, session._free) == (0, 0, 3)
            await sink.wait(20 + 30)

    run(scenario())


def test_a_cancelled_submit_gives_its_window_places_back() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.happy(resp_delay=0.2)
        async with smsc, connected(smsc, window=2) as (conn, _):
            task = asyncio.ensure_future(conn.submit([message(n) for n in range(1, 6)]))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert len(smsc.submits) == 2  # in flight when cancelled; the others never leave
            results = await conn.submit([message(n) for n in range(6, 9)])
            assert {r.outcome for r in results} == {Outcome.SUBMITTED}
            assert len(smsc.submits) == 2 + 3
            session = conn.sessions[0]
            assert (session.in_flight, session.load, session._free) == (0, 0, 2)

    run(scenario())


def test_unencodable_sender_is_refused_once_bound_and_transient_while_not() -> None:
    async def scenario() -> None:
        smsc = fake_smsc.bind_refused(1000)
        options = {"wait_bound": False, "bind_wait": 0.2}
        async with smsc, connected(smsc, **options) as (conn, _):
            (result,) = await conn.submit([message(1, sender="Ünïcode sendér €")])
            assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "smpp_not_bound")

    run(scenario())
