"""SMPP 3.4 PDUs: the subset smsgate speaks, encoded and decoded by hand.

A PDU is a 16-byte header (command_length, command_id, command_status, sequence_number, all
big-endian unsigned 32-bit) and a body of mandatory fields, then optional TLVs (tag 16 bits,
length 16 bits, value). ``FrameBuffer`` cuts a byte stream into PDUs and refuses a length it
cannot trust (shorter than the header, or above ``MAX_PDU_SIZE``) the moment it sees it:
after that the stream cannot be resynchronised, and the connection has to go.

    PduError            a PDU that cannot be encoded or decoded
    └── FrameError      a bad command_length: drop the connection

Decoding is strict about structure (a field running past the body is an error) and lenient
about content (a string longer than the spec's maximum is accepted), so an SMSC that pads
a message id still works while a truncated PDU never reads foreign bytes.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "MAX_PDU_SIZE",
    "RESPONSE_BIT",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CommandId",
    "DeliverSm",
    "DeliverSmResp",
    "EnquireLink",
    "EnquireLinkResp",
    "FrameBuffer",
    "FrameError",
    "GenericNack",
    "Pdu",
    "PduError",
    "Status",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "Unbind",
    "UnbindResp",
    "UnknownPdu",
    "decode",
    "encode",
    "header",
    "tlv_cstr",
    "tlv_int",
    "tlv_uint",
]

# The largest legal PDU carries a 64 KiB message_payload plus the fixed fields.
MAX_PDU_SIZE = 70_000
HEADER_SIZE = 16
RESPONSE_BIT = 0x80000000
_HEADER = HEADER = struct.Struct(">IIII")  # command_length, command_id, status, sequence
_LENGTH = struct.Struct(">I")
_TLV_HEAD = struct.Struct(">HH")


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    """The command_status values smsgate names; any other value may still arrive."""

    OK = 0x00
    INVMSGLEN = 0x01
    INVCMDLEN = 0x02
    INVCMDID = 0x03
    INVBNDSTS = 0x04
    ALYBND = 0x05
    SYSERR = 0x08
    INVSRCADR = 0x0A
    INVDSTADR = 0x0B
    BINDFAIL = 0x0D
    INVPASWD = 0x0E
    INVSYSID = 0x0F
    MSGQFUL = 0x14
    THROTTLED = 0x58
    X_T_APPN = 0x64
    X_P_APPN = 0x65


class Tag(IntEnum):
    RECEIPTED_MESSAGE_ID = 0x001E
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class PduError(ValueError):
    """A PDU that cannot be encoded or decoded."""


class FrameError(PduError):
    """A command_length that cannot be trusted; the stream is lost."""


# --- field codecs ---------------------------------------------------------------------------


def _cstr_bytes(value: str, max_size: int, name: str) -> bytes:
    """A C-Octet String: the text and a NUL; ``max_size`` counts the NUL, as the spec does."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise PduError(f"{name} must be Latin-1 text") from exc
    if b"\x00" in raw or len(raw) + 1 > max_size:
        raise PduError(f"{name} must be at most {max_size - 1} characters without NUL")
    return raw + b"\x00"


class _Reader:
    """Reads fields off a body; every read checks it stays inside the body."""

    __slots__ = ("body", "off")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.off = 0

    def cstr(self) -> str:
        end = self.body.find(b"\x00", self.off)
        if end < 0:
            raise PduError("C-Octet String without its NUL")
        value = self.body[self.off : end].decode("latin-1")
        self.off = end + 1
        return value

    def cstr_or_rest(self) -> str:
        """The last field of a response: some SMSCs leave out the NUL, or the whole body."""
        end = self.body.find(b"\x00", self.off)
        stop = len(self.body) if end < 0 else end
        value = self.body[self.off : stop].decode("latin-1")
        self.off = len(self.body) if end < 0 else end + 1
        return value

    def u8(self) -> int:
        if self.off >= len(self.body):
            raise PduError("body ends inside a mandatory field")
        value = self.body[self.off]
        self.off += 1
        return value

    def octets(self, size: int) -> bytes:
        if self.off + size > len(self.body):
            raise PduError("body ends inside an octet string")
        value = self.body[self.off : self.off + size]
        self.off += size
        return value

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        body, off = self.body, self.off
        while off < len(body):
            if off + 4 > len(body):
                raise PduError("truncated TLV header")
            tag, size = _TLV_HEAD.unpack_from(body, off)
            off += 4
            if off + size > len(body):
                raise PduError(f"TLV {tag:#06x} runs past the end of the PDU")
            found[tag] = body[off : off + size]
            off += size
        self.off = off
        return found


def _tlv_bytes(tlvs: dict[int, bytes]) -> bytes:
    out = bytearray()
    for tag, value in tlvs.items():
        if not 0 <= tag <= 0xFFFF or len(value) > 0xFFFF:
            raise PduError(f"TLV {tag:#06x} out of range")
        out += _TLV_HEAD.pack(tag, len(value))
        out += value
    return bytes(out)


def tlv_uint(value: int, size: int) -> bytes:
    """The value of an integer TLV (1, 2 or 4 octets, big-endian)."""
    return value.to_bytes(size, "big")


def tlv_int(tlvs: dict[int, bytes], tag: int) -> int | None:
    value = tlvs.get(tag)
    if value is None or not value:
        return None
    return int.from_bytes(value, "big")


def tlv_cstr(tlvs: dict[int, bytes], tag: int) -> str | None:
    """A C-Octet String TLV; a missing NUL is forgiven."""
    value = tlvs.get(tag)
    if value is None:
        return None
    return value.split(b"\x00", 1)[0].decode("latin-1")


def _u8(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise PduError(f"{name} must fit one octet")
    return bytes((value,))


# --- PDUs ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Pdu:
    command_id: ClassVar[int]
    sequence: int = 0
    status: int = 0

    def body(self) -> bytes:
        return b""

    @classmethod
    def from_body(cls, body: bytes, sequence: int, status: int) -> Self:
        if body:
            raise PduError(f"{cls.__name__} has no body, got {len(body)} octets")
        return cls(sequence, status)


@dataclass(slots=True)
class GenericNack(Pdu):
    command_id = CommandId.GENERIC_NACK


@dataclass(slots=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(slots=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND


@dataclass(slots=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP


@dataclass(slots=True)
class _Bind(Pdu):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def body(self) -> bytes:
        return b"".join(
            (
                _cstr_bytes(self.system_id, 16, "system_id"),
                _cstr_bytes(self.password, 9, "password"),
                _cstr_bytes(self.system_type, 13, "system_type"),
                _u8(self.interface_version, "interface_version"),
                _u8(self.addr_ton, "addr_ton"),
                _u8(self.addr_npi, "addr_npi"),
                _cstr_bytes(self.address_range, 41, "address_range"),
            )
        )

    @classmethod
    def from_body(cls, body: bytes, sequence: int, status: int) -> Self:
        r = _Reader(body)
        pdu = cls(sequence, status, r.cstr(), r.cstr(), r.cstr(), r.u8(), r.u8(), r.u8(), r.cstr())
        if r.off != len(body):
            raise PduError("bind has trailing octets")
        return pdu


@dataclass(slots=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(slots=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(slots=True)
class _BindResp(Pdu):
    system_id: str = ""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def body(self) -> bytes:
        return _cstr_bytes(self.system_id, 16, "system_id") + _tlv_bytes(self.tlvs)

    @classmethod
    def from_body(cls, body: bytes, sequence: int, status: int) -> Self:
        r = _Reader(body)
        system_id = r.cstr_or_rest()  # an error response may have no body at all
        return cls(sequence, status, system_id, r.tlvs())


@dataclass(slots=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True)
class _ShortMessage(Pdu):
    """The body submit_sm and deliver_sm share."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def body(self) -> bytes:
        if len(self.short_message) > 254:
            raise PduError("short_message is at most 254 octets; use message_payload")
        return b"".join(
            (
                _cstr_bytes(self.service_type, 6, "service_type"),
                _u8(self.source_addr_ton, "source_addr_ton"),
                _u8(self.source_addr_npi, "source_addr_npi"),
                _cstr_bytes(self.source_addr, 21, "source_addr"),
                _u8(self.dest_addr_ton, "dest_addr_ton"),
                _u8(self.dest_addr_npi, "dest_addr_npi"),
                _cstr_bytes(self.destination_addr, 21, "destination_addr"),
                _u8(self.esm_class, "esm_class"),
                _u8(self.protocol_id, "protocol_id"),
                _u8(self.priority_flag, "priority_flag"),
                _cstr_bytes(self.schedule_delivery_time, 17, "schedule_delivery_time"),
                _cstr_bytes(self.validity_period, 17, "validity_period"),
                _u8(self.registered_delivery, "registered_delivery"),
                _u8(self.replace_if_present_flag, "replace_if_present_flag"),
                _u8(self.data_coding, "data_coding"),
                _u8(self.sm_default_msg_id, "sm_default_msg_id"),
                bytes((len(self.short_message),)),
                self.short_message,
                _tlv_bytes(self.tlvs),
            )
        )

    @classmethod
    def from_body(cls, body: bytes, sequence: int, status: int) -> Self:
        return cls.parse(body, 0, len(body), sequence, status)

    @classmethod
    def parse(cls, buf: bytes, off: int, end: int, sequence: int, status: int) -> Self:
        """The body in ``buf[off:end]`` (a read of many PDUs need not be cut into frames).

        The same checks as ``_Reader``, in the same order, written out: this runs for every
        receipt."""
        find = buf.find
        nul = find(b"\x00", off, end)
        if nul < 0:
            raise PduError("C-Octet String without its NUL")
        service_type = buf[off:nul].decode("latin-1") if nul > off else ""
        off = nul + 3  # past the NUL and the two octets after it
        if off > end:
            raise PduError("body ends inside a mandatory field")
        source_addr_ton, source_addr_npi = buf[nul + 1], buf[nul + 2]
        nul = find(b"\x00", off, end)
        if nul < 0:
            raise PduError("C-Octet String without its NUL")
        source_addr = buf[off:nul].decode("latin-1")
        off = nul + 3
        if off > end:
            raise PduError("body ends inside a mandatory field")
        dest_addr_ton, dest_addr_npi = buf[nul + 1], buf[nul + 2]
        nul = find(b"\x00", off, end)
        if nul < 0:
            raise PduError("C-Octet String without its NUL")
        destination_addr = buf[off:nul].decode("latin-1")
        off = nul + 4
        if off > end:
            raise PduError("body ends inside a mandatory field")
        esm_class, protocol_id, priority_flag = buf[nul + 1], buf[nul + 2], buf[nul + 3]
        nul = find(b"\x00", off, end)
        if nul < 0:
            raise PduError("C-Octet String without its NUL")
        schedule_delivery_time = buf[off:nul].decode("latin-1") if nul > off else ""
        off = nul + 1
        nul = find(b"\x00", off, end)
        if nul < 0:
            raise PduError("C-Octet String without its NUL")
        validity_period = buf[off:nul].decode("latin-1") if nul > off else ""
        off = nul + 6
        if off > end:
            raise PduError("body ends inside a mandatory field")
        registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length = (
            buf[nul + 1 : off]
        )
        if off + sm_length > end:
            raise PduError("body ends inside an octet string")
        short_message = buf[off : off + sm_length]
        off += sm_length
        tlvs: dict[int, bytes] = {}
        while off < end:
            if off + 4 > end:
                raise PduError("truncated TLV header")
            tag, size = _TLV_HEAD.unpack_from(buf, off)
            off += 4
            if off + size > end:
                raise PduError(f"TLV {tag:#06x} runs past the end of the PDU")
            tlvs[tag] = buf[off : off + size]
            off += size
        return cls(
            sequence,
            status,
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs,
        )

    def text_bytes(self) -> bytes:
        """short_message, or message_payload when short_message is empty."""
        if self.short_message:
            return self.short_message
        return self.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")


@dataclass(slots=True)
class SubmitSm(_ShortMessage):
    command_id = CommandId.SUBMIT_SM


@dataclass(slots=True)
class DeliverSm(_ShortMessage):
    command_id = CommandId.DELIVER_SM


@dataclass(slots=True)
class _MessageIdResp(Pdu):
    message_id: str = ""

    def body(self) -> bytes:
        return _cstr_bytes(self.message_id, 65, "message_id")

    @classmethod
    def from_body(cls, body: bytes, sequence: int, status: int) -> Self:
        # An error response usually has no body; TLVs after the id (SMPP 5.0) are ignored.
        return cls(sequence, status, _Reader(body).cstr_or_rest())


@dataclass(slots=True)
class SubmitSmResp(_MessageIdResp):
    command_id = CommandId.SUBMIT_SM_RESP


@dataclass(slots=True)
class DeliverSmResp(_MessageIdResp):
    command_id = CommandId.DELIVER_SM_RESP


@dataclass(slots=True)
class UnknownPdu(Pdu):
    """A command smsgate does not speak; a request is answered with generic_nack."""

    command_id = 0
    raw_command_id: int = 0
    raw_body: bytes = b""

    def body(self) -> bytes:
        return self.raw_body


_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        GenericNack,
        EnquireLink,
        EnquireLinkResp,
        Unbind,
        UnbindResp,
        BindTransceiver,
        BindTransmitter,
        BindReceiver,
        BindTransceiverResp,
        BindTransmitterResp,
        BindReceiverResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
    )
}


def encode(pdu: Pdu) -> bytes:
    command_id = pdu.raw_command_id if isinstance(pdu, UnknownPdu) else pdu.command_id
    body = pdu.body()
    if not 0 <= pdu.sequence <= 0xFFFFFFFF or not 0 <= pdu.status <= 0xFFFFFFFF:
        raise PduError("sequence and status are unsigned 32-bit integers")
    return _HEADER.pack(HEADER_SIZE + len(body), command_id, pdu.status, pdu.sequence) + body


def decode(frame: bytes) -> Pdu:
    """One whole PDU, as ``FrameBuffer`` returns it."""
    if len(frame) < HEADER_SIZE:
        raise FrameError(f"a PDU has at least {HEADER_SIZE} octets, got {len(frame)}")
    length, command_id, status, sequence = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise FrameError(f"command_length {length} but {len(frame)} octets")
    cls = _CLASSES.get(command_id)
    if cls is None:
        return UnknownPdu(sequence, status, command_id, frame[HEADER_SIZE:])
    return cls.from_body(frame[HEADER_SIZE:], sequence, status)


def header(frame: bytes) -> tuple[int, int, int]:
    """command_id, command_status and sequence_number of a frame (for answering a PDU whose
    body does not decode)."""
    _, command_id, status, sequence = _HEADER.unpack_from(frame)
    return command_id, status, sequence


class FrameBuffer:
    """Cuts a byte stream into whole PDUs, sans I/O, in one buffer of its own.

    The session reads straight into it (``asyncio.BufferedProtocol``: ``space`` is where the
    socket writes, ``filled`` says how much it wrote) and handles every whole PDU in place,
    however many one read brought: no 256 KiB bytes object per read (asyncio's ``recv``
    allocates one), one copy of the whole PDUs (``take``) to decode them from, and none of
    each PDU. ``feed`` is the same for a caller that has bytes, and returns each PDU.
    """

    __slots__ = ("_view", "buffer", "end", "max_size")

    def __init__(self, max_size: int = MAX_PDU_SIZE, room: int = 1 << 16) -> None:
        self.max_size = max_size
        # An unfinished PDU is at most max_size - 1 octets: a read always has ``room``.
        self.buffer = bytearray(max_size + room)
        self._view = memoryview(self.buffer)
        self.end = 0  # octets held: ``buffer[:end]``

    def space(self) -> memoryview:
        """Where the next octets go (at least ``room`` of them)."""
        return self._view[self.end :] if self.end else self._view

    def filled(self, nbytes: int) -> list[int]:
        """``nbytes`` octets were written at the start of ``space()``. Returns the bounds of
        the whole PDUs at the front of ``buffer``: PDU i is ``buffer[bounds[i]:bounds[i+1]]``
        (none if ``len(bounds) == 1``); ``take(bounds[-1])`` hands them over.
        FrameError at the first command_length that cannot be trusted, as soon as its 4
        octets are there."""
        self.end = size = self.end + nbytes
        buf = self.buffer
        bounds = [0]
        off = 0
        max_size = self.max_size
        while size - off >= 4:
            length = buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 | buf[off + 3]
            # Checked before waiting for the body: a garbage length must not make us buffer
            # gigabytes or wait forever for bytes that are not coming.
            if length < HEADER_SIZE or length > max_size:
                raise FrameError(f"command_length {length} outside {HEADER_SIZE}..{max_size}")
            if size - off < length:
                break
            off += length
            bounds.append(off)
        return bounds

    def take(self, upto: int) -> bytes:
        """The octets before ``upto`` (the whole PDUs ``filled`` found), as one bytes object
        that PDUs are decoded from without further copies; what follows moves to the front."""
        data = self._view[:upto].tobytes()
        rest = self.end - upto
        if rest and upto:
            self.buffer[:rest] = self.buffer[upto : self.end]
        self.end = rest
        return data

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        view = memoryview(data)
        while view:
            room = self.space()
            n = min(len(room), len(view))
            room[:n] = view[:n]
            view = view[n:]
            bounds = self.filled(n)
            whole = self.take(bounds[-1])
            frames += [whole[a:b] for a, b in itertools.pairwise(bounds)]
        return frames

    @property
    def pending(self) -> int:
        """Octets held back, waiting for the rest of their PDU."""
        return self.end
