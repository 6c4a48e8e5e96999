"""A fake SMSC on 127.0.0.1 for the SMPP connector tests, with one knob per failure mode.

Use the factories at the bottom (``happy``, ``error_on_submit``, ``no_response``, ...) or set
the knobs directly. It counts what it saw so tests can assert on the wire as well as on the
connector's results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from smsgate.connectors.smpp.pdu import (
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FrameBuffer,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    _Bind,
    decode,
    encode,
    tlv_int,
)

ReceiptForm = Literal["text", "tlv", "both"]


def default_resp_id(n: int) -> str:
    return format(0xA0000000 + n, "x")


@dataclass
class Submitted:
    n: int
    pdu: SubmitSm
    connection: int
    message_id: str | None = None

    @property
    def concat(self) -> tuple[int, int, int] | None:
        """(reference, total, seq) from the UDH or the SAR TLVs."""
        pdu = self.pdu
        if pdu.esm_class & 0x40:
            udh = pdu.short_message
            return udh[3], udh[4], udh[5]
        ref = tlv_int(pdu.tlvs, Tag.SAR_MSG_REF_NUM)
        if ref is None:
            return None
        total = tlv_int(pdu.tlvs, Tag.SAR_TOTAL_SEGMENTS)
        seq = tlv_int(pdu.tlvs, Tag.SAR_SEGMENT_SEQNUM)
        assert total is not None and seq is not None
        return ref, total, seq


@dataclass
class FakeSmsc:
    bind_statuses: list[int] = field(default_factory=list)  # statuses of the first binds
    submit_status: Callable[[int, SubmitSm], int] = lambda n, pdu: 0
    answer_submits: bool = True
    answer_enquire_link: bool = True
    resp_delay: float = 0.0
    resp_id: Callable[[int], str] = default_resp_id
    receipts: ReceiptForm | None = "text"
    receipt_id: Callable[[str], str] = lambda mid: mid
    receipt_stat: Callable[[Submitted], tuple[str, str]] = lambda s: ("DELIVRD", "000")
    receipt_delay: float = 0.0
    receipt_first: bool = False  # deliver_sm before submit_sm_resp
    reverse_parts: bool = False  # receipts of a long message's parts, last part first
    drop_after: int | None = None  # answer this many submit_sm, then drop at the next (once)

    port: int = 0
    binds: list[tuple[float, _Bind]] = field(default_factory=list)
    submits: list[Submitted] = field(default_factory=list)
    deliver_sent: int = 0
    deliver_resps: list[DeliverSmResp] = field(default_factory=list)
    nacks: list[GenericNack] = field(default_factory=list)
    enquire_links: int = 0
    unbinds: int = 0
    connections: int = 0
    sockets_nodelay: list[bool] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _parts: dict[tuple[int, int], list[Submitted]] = field(default_factory=dict)
    _seq: int = 0x1000
    _answered: int = 0

    async def __aenter__(self) -> FakeSmsc:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    # --- the server ---------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        self._writers.add(writer)
        frames = FrameBuffer()
        try:
            while not writer.is_closing() and (data := await reader.read(65536)):
                for frame in frames.feed(data):
                    if writer.is_closing():
                        break
                    self._handle(decode(frame), writer, connection)
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _write(self, writer: asyncio.StreamWriter, pdu: Pdu) -> None:
        if not writer.is_closing():
            writer.write(encode(pdu))

    def _handle(self, pdu: Pdu, writer: asyncio.StreamWriter, connection: int) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(pdu, _Bind):
            self.binds.append((loop.time(), pdu))
            status = self.bind_statuses.pop(0) if self.bind_statuses else 0
            resp_cls = {
                BindTransceiver.command_id: BindTransceiverResp,
                0x00000002: BindTransmitterResp,
                0x00000001: BindReceiverResp,
            }[pdu.command_id]
            self._write(writer, resp_cls(pdu.sequence, status, "fake"))
        elif isinstance(pdu, SubmitSm):
            self._submit(pdu, writer, connection)
        elif isinstance(pdu, EnquireLink):
            self.enquire_links += 1
            if self.answer_enquire_link:
                self._write(writer, EnquireLinkResp(pdu.sequence))
        elif isinstance(pdu, Unbind):
            self.unbinds += 1
            self._write(writer, UnbindResp(pdu.sequence))
            writer.close()
        elif isinstance(pdu, DeliverSmResp):
            self.deliver_resps.append(pdu)
        elif isinstance(pdu, GenericNack):
            self.nacks.append(pdu)
        else:
            self._write(writer, GenericNack(pdu.sequence, 0x03))

    def _submit(self, pdu: SubmitSm, writer: asyncio.StreamWriter, connection: int) -> None:
        n = len(self.submits) + 1
        sub = Submitted(n, pdu, connection)
        self.submits.append(sub)
        if self.drop_after is not None and self._answered >= self.drop_after:
            self.drop_after = None
            writer.close()  # after the answers already written
            return
        if not self.answer_submits:
            return
        self._answered += 1
        status = self.submit_status(n, pdu)
        if status:
            self._later(self.resp_delay, writer, SubmitSmResp(pdu.sequence, status))
            return
        sub.message_id = self.resp_id(n)
        resp = SubmitSmResp(pdu.sequence, 0, sub.message_id)
        if self.receipts and pdu.registered_delivery & 1:
            if self.receipt_first:
                self._receipt(sub, writer)
            else:
                asyncio.get_running_loop().call_later(
                    self.receipt_delay + self.resp_delay, self._receipt, sub, writer
                )
        self._later(self.resp_delay, writer, resp)

    def _later(self, delay: float, writer: asyncio.StreamWriter, pdu: Pdu) -> None:
        if delay:
            asyncio.get_running_loop().call_later(delay, self._write, writer, pdu)
        else:
            self._write(writer, pdu)

    def _receipt(self, sub: Submitted, writer: asyncio.StreamWriter) -> None:
        concat = sub.concat
        if self.reverse_parts and concat is not None:
            ref, total, _ = concat
            held = self._parts.setdefault((sub.connection, ref), [])
            held.append(sub)
            if len(held) < total:
                return
            for part in sorted(held, key=lambda s: -(s.concat or (0, 0, 0))[2]):
                self._send_receipt(part, writer)
            del self._parts[(sub.connection, ref)]
            return
        self._send_receipt(sub, writer)

    def _send_receipt(self, sub: Submitted, writer: asyncio.StreamWriter) -> None:
        assert sub.message_id is not None
        self._seq += 1
        self.deliver_sent += 1
        self._write(writer, receipt_pdu(self._seq, sub, self.receipt_id(sub.message_id), self))

    def send_raw(self, frame: bytes) -> None:
        for writer in list(self._writers):
            writer.write(frame)

    def send_mo(self, text: str) -> None:
        """An inbound message (not a receipt) on every connection."""
        for writer in list(self._writers):
            self._seq += 1
            self.deliver_sent += 1
            self._write(
                writer,
                DeliverSm(
                    self._seq,
                    source_addr_ton=1,
                    source_addr_npi=1,
                    source_addr="37120000000",
                    destination_addr="4546",
                    short_message=text.encode("latin-1"),
                ),
            )

    def send_mo_from(self, source: str, destination: str, text: str, data_coding: int = 0) -> None:
        """An inbound message from ``source`` to ``destination`` on the first connection, its
        text encoded as ``data_coding`` says (0 GSM 03.38, 3 Latin-1, 8 UCS-2)."""
        from smsgate.connectors.smpp.gsm import encode as gsm_encode

        encoded = {
            0: gsm_encode,
            3: lambda t: t.encode("latin-1"),
            8: lambda t: t.encode("utf-16-be"),
        }[data_coding](text)
        writer = next(iter(self._writers))
        self._seq += 1
        self.deliver_sent += 1
        self._write(
            writer,
            DeliverSm(
                self._seq,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=source,
                destination_addr=destination,
                data_coding=data_coding,
                short_message=encoded,
            ),
        )


_STATE = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}


def receipt_pdu(seq: int, sub: Submitted, rid: str, smsc: FakeSmsc) -> DeliverSm:
    stat, err = smsc.receipt_stat(sub)
    text = b""
    tlvs: dict[int, bytes] = {}
    if smsc.receipts in ("text", "both"):
        text = (
            f"id:{rid} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
            f"stat:{stat} err:{err} text:hello id:bogus stat:REJECTD"
        ).encode()
    if smsc.receipts in ("tlv", "both"):
        tlvs[Tag.RECEIPTED_MESSAGE_ID] = rid.encode() + b"\x00"
        tlvs[Tag.MESSAGE_STATE] = bytes((_STATE[stat],))
        if err != "000":
            tlvs[Tag.NETWORK_ERROR_CODE] = bytes((3,)) + int(err).to_bytes(2, "big")
    return DeliverSm(
        seq,
        source_addr_ton=sub.pdu.dest_addr_ton,
        source_addr_npi=sub.pdu.dest_addr_npi,
        source_addr=sub.pdu.destination_addr,
        dest_addr_ton=sub.pdu.source_addr_ton,
        dest_addr_npi=sub.pdu.source_addr_npi,
        destination_addr=sub.pdu.source_addr,
        esm_class=0x04,
        short_message=text,
        tlvs=tlvs,
    )


# --- one fake per failure mode ------------------------------------------------------------


def happy(receipts: ReceiptForm = "text", **knobs: object) -> FakeSmsc:
    return FakeSmsc(receipts=receipts, **knobs)  # type: ignore[arg-type]


def error_on_submit(status: int) -> FakeSmsc:
    return FakeSmsc(submit_status=lambda n, pdu: status)


def no_response() -> FakeSmsc:
    return FakeSmsc(answer_submits=False)


def bind_refused(times: int, status: int = 0x0D) -> FakeSmsc:
    return FakeSmsc(bind_statuses=[status] * times)


def throttling(first: int) -> FakeSmsc:
    """ESME_RTHROTTLED for the first ``first`` submit_sm, then OK."""
    return FakeSmsc(submit_status=lambda n, pdu: 0x58 if n <= first else 0)


def throttling_at(numbers: set[int]) -> FakeSmsc:
    """ESME_RTHROTTLED for the submit_sm with these numbers (1-based, in arrival order)."""
    return FakeSmsc(submit_status=lambda n, pdu: 0x58 if n in numbers else 0)


def disconnect_mid_window(after: int) -> FakeSmsc:
    return FakeSmsc(drop_after=after)


def receipts_before_resp(resp_delay: float = 0.2) -> FakeSmsc:
    return FakeSmsc(receipt_first=True, resp_delay=resp_delay)


def parts_out_of_order() -> FakeSmsc:
    return FakeSmsc(reverse_parts=True)


def hex_resp_decimal_receipts() -> FakeSmsc:
    """submit_sm_resp ids in upper-case hex with leading zeros; receipts in decimal."""
    return FakeSmsc(
        resp_id=lambda n: format(0x0A000000 + n * 7919, "010X"),
        receipt_id=lambda mid: str(int(mid, 16)),
    )
