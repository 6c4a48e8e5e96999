"""The SMPP codec: golden octets written from the spec, round trips, and the frame reader."""

from __future__ import annotations

import contextlib
import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.connectors.smpp import pdu as p


def octets(command_id: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


# --- golden octets ------------------------------------------------------------------------


def test_header_only_pdus() -> None:
    assert p.encode(p.EnquireLink(7)) == bytes.fromhex("00000010 00000015 00000000 00000007")
    assert p.decode(octets(0x80000015, 0, 7)) == p.EnquireLinkResp(7)
    assert p.decode(octets(0x80000000, 3, 9)) == p.GenericNack(9, 3)
    assert p.encode(p.Unbind(1)) == octets(6, 0, 1)
    assert p.decode(octets(0x80000006, 0, 1)) == p.UnbindResp(1)


def test_bind_transceiver_octets() -> None:
    pdu = p.BindTransceiver(1, system_id="smsgate", password="pw", system_type="VMA")
    body = b"smsgate\x00pw\x00VMA\x00\x34\x00\x00\x00"
    assert p.encode(pdu) == octets(0x09, 0, 1, body)
    assert p.decode(octets(0x09, 0, 1, body)) == pdu


def test_bind_resp_with_and_without_body() -> None:
    tlv = bytes.fromhex("0210 0001 34")
    resp = p.decode(octets(0x80000009, 0, 1, b"SMSC\x00" + tlv))
    assert resp == p.BindTransceiverResp(1, 0, "SMSC", {p.Tag.SC_INTERFACE_VERSION: b"\x34"})
    assert p.decode(octets(0x80000009, 0x0E, 1)) == p.BindTransceiverResp(1, 0x0E, "")


def test_submit_sm_octets() -> None:
    pdu = p.SubmitSm(
        5,
        source_addr_ton=5,
        source_addr="Acme",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="37120000000",
        esm_class=0x40,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x01\x02\x01" + "hi".encode("utf-16-be"),
        tlvs={p.Tag.SAR_TOTAL_SEGMENTS: b"\x02"},
    )
    body = (
        b"\x00"  # service_type
        + b"\x05\x00Acme\x00"
        + b"\x01\x0137120000000\x00"
        + b"\x40\x00\x00"  # esm_class, protocol_id, priority_flag
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + b"\x01\x00\x08\x00"  # registered_delivery, replace, data_coding, default msg id
        + b"\x0a\x05\x00\x03\x01\x02\x01\x00h\x00i"
        + bytes.fromhex("020e 0001 02")
    )
    assert p.encode(pdu) == octets(4, 0, 5, body)
    assert p.decode(octets(4, 0, 5, body)) == pdu


def test_submit_sm_resp_forms() -> None:
    assert p.decode(octets(0x80000004, 0, 3, b"0A1b\x00")) == p.SubmitSmResp(3, 0, "0A1b")
    # error without a body, id without its NUL, SMPP 5.0 TLVs after the id
    assert p.decode(octets(0x80000004, 0x58, 3)) == p.SubmitSmResp(3, 0x58, "")
    assert p.decode(octets(0x80000004, 0, 3, b"abc")) == p.SubmitSmResp(3, 0, "abc")
    extra = b"abc\x00" + bytes.fromhex("0425 0001 01")
    assert p.decode(octets(0x80000004, 0, 3, extra)) == p.SubmitSmResp(3, 0, "abc")


def test_deliver_sm_receipt_tlvs() -> None:
    body = (
        b"\x00\x01\x0137120000000\x00\x05\x00Acme\x00\x04" + b"\x00" * 9
        + bytes.fromhex("001e 0005") + b"a1b2\x00"
        + bytes.fromhex("0427 0001 05")
        + bytes.fromhex("0423 0003 03 0022")
    )  # fmt: skip
    pdu = p.decode(octets(5, 0, 77, body))
    assert isinstance(pdu, p.DeliverSm)
    assert pdu.esm_class == 0x04
    assert p.tlv_cstr(pdu.tlvs, p.Tag.RECEIPTED_MESSAGE_ID) == "a1b2"
    assert p.tlv_int(pdu.tlvs, p.Tag.MESSAGE_STATE) == 5
    assert pdu.tlvs[p.Tag.NETWORK_ERROR_CODE] == b"\x03\x00\x22"
    assert p.encode(pdu) == octets(5, 0, 77, body)


def test_unknown_command_is_kept_whole() -> None:
    frame = octets(0x00000103, 0, 4, b"\x01\x02")  # data_sm
    pdu = p.decode(frame)
    assert pdu == p.UnknownPdu(4, 0, 0x103, b"\x01\x02")
    assert p.encode(pdu) == frame


@pytest.mark.parametrize(
    "frame",
    [
        octets(4, 0, 1, b"\x00\x05\x00Acme"),  # string without NUL
        octets(4, 0, 1, b"\x00" * 16 + b"\x05abc"),  # short_message runs past the end
        octets(0x15, 0, 1, b"x"),  # enquire_link has no body
        octets(0x80000009, 0, 1, b"id\x00\x02\x10\x00"),  # truncated TLV header
        octets(0x80000009, 0, 1, b"id\x00\x02\x10\x00\x05\x01"),  # TLV longer than the PDU
    ],
)
def test_malformed_bodies_raise_pdu_error(frame: bytes) -> None:
    with pytest.raises(p.PduError):
        p.decode(frame)


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(p.PduError):
        p.encode(p.SubmitSm(1, short_message=b"x" * 255))
    with pytest.raises(p.PduError):
        p.encode(p.BindTransceiver(1, system_id="x" * 16))
    with pytest.raises(p.PduError):
        p.encode(p.SubmitSm(1, source_addr="€"))


# --- round trips ------------------------------------------------------------------------

u8 = st.integers(0, 255)
u32 = st.integers(0, 0xFFFFFFFF)


def cstr(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_size - 1)


tlvs = st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=300), max_size=4)
short_messages = st.builds(
    lambda cls, *a, **kw: cls(*a, **kw),
    st.sampled_from([p.SubmitSm, p.DeliverSm]),
    u32,
    u32,
    service_type=cstr(6),
    source_addr_ton=u8,
    source_addr_npi=u8,
    source_addr=cstr(21),
    dest_addr_ton=u8,
    dest_addr_npi=u8,
    destination_addr=cstr(21),
    esm_class=u8,
    protocol_id=u8,
    priority_flag=u8,
    schedule_delivery_time=cstr(17),
    validity_period=cstr(17),
    registered_delivery=u8,
    replace_if_present_flag=u8,
    data_coding=u8,
    sm_default_msg_id=u8,
    short_message=st.binary(max_size=254),
    tlvs=tlvs,
)
binds = st.builds(
    lambda cls, *a: cls(*a),
    st.sampled_from([p.BindTransceiver, p.BindTransmitter, p.BindReceiver]),
    u32,
    u32,
    cstr(16),
    cstr(9),
    cstr(13),
    u8,
    u8,
    u8,
    cstr(41),
)
bind_resps = st.builds(
    lambda cls, *a: cls(*a),
    st.sampled_from([p.BindTransceiverResp, p.BindTransmitterResp, p.BindReceiverResp]),
    u32,
    u32,
    cstr(16),
    tlvs,
)
id_resps = st.builds(
    lambda cls, *a: cls(*a),
    st.sampled_from([p.SubmitSmResp, p.DeliverSmResp]),
    u32,
    u32,
    cstr(65),
)
bare = st.builds(
    lambda cls, *a: cls(*a),
    st.sampled_from([p.GenericNack, p.EnquireLink, p.EnquireLinkResp, p.Unbind, p.UnbindResp]),
    u32,
    u32,
)
pdus = st.one_of(short_messages, binds, bind_resps, id_resps, bare)


@given(pdus)
def test_round_trip(pdu: p.Pdu) -> None:
    frame = p.encode(pdu)
    assert struct.unpack_from(">I", frame)[0] == len(frame)
    assert p.decode(frame) == pdu


@given(st.lists(pdus, min_size=1, max_size=8), st.data())
def test_frame_buffer_reassembles_any_chunking(batch: list[p.Pdu], data: st.DataObject) -> None:
    stream = b"".join(p.encode(x) for x in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    buffer = p.FrameBuffer()
    frames: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames += buffer.feed(stream[a:b])
    assert [p.decode(f) for f in frames] == batch
    assert buffer.pending == 0


@given(st.binary(max_size=200), u32, u32, st.sampled_from(list(p.CommandId)))
def test_decode_of_garbage_body_only_raises_pdu_error(
    body: bytes, status: int, seq: int, command_id: int
) -> None:
    with contextlib.suppress(p.PduError):
        p.decode(octets(command_id, status, seq, body))


@pytest.mark.parametrize("length", [0, 15, p.MAX_PDU_SIZE + 1, 0xFFFFFFFF])
def test_frame_buffer_refuses_a_bad_length_at_once(length: int) -> None:
    buffer = p.FrameBuffer()
    with pytest.raises(p.FrameError):
        buffer.feed(struct.pack(">I", length))  # before any body arrives


def test_frame_buffer_waits_for_the_rest() -> None:
    frame = p.encode(p.SubmitSmResp(1, 0, "abc"))
    buffer = p.FrameBuffer()
    assert buffer.feed(frame[:3]) == []
    assert buffer.feed(frame[3:-1]) == []
    assert buffer.feed(frame[-1:] + frame[:5]) == [frame]
    assert buffer.pending == 5


def test_decode_checks_the_length_field() -> None:
    frame = p.encode(p.EnquireLink(1))
    with pytest.raises(p.FrameError):
        p.decode(frame + b"\x00")
    with pytest.raises(p.FrameError):
        p.decode(frame[:12])


# --- reading in bulk: the buffer the session reads into, and decoding in place -----------


def _stream() -> tuple[bytes, list[bytes]]:
    frames = [
        p.encode(p.SubmitSmResp(1, 0, "0a1b2c")),
        p.encode(
            p.DeliverSm(
                2,
                source_addr="37120000000",
                destination_addr="Acme",
                esm_class=0x04,
                short_message=b"id:0a1b2c stat:DELIVRD err:000 text:",
                tlvs={p.Tag.RECEIPTED_MESSAGE_ID: b"0a1b2c\x00", p.Tag.MESSAGE_STATE: b"\x02"},
            )
        ),
        p.encode(p.EnquireLink(3)),
        p.encode(p.SubmitSmResp(4, 0x58)),
        p.encode(p.DeliverSm(5, tlvs={p.Tag.MESSAGE_PAYLOAD: b"x" * 3000})),
    ]
    return b"".join(frames), frames


def _read(buffer: p.FrameBuffer, chunk: bytes) -> list[bytes]:
    """One read as the session does it: into space(), then filled() and take()."""
    room = buffer.space()
    room[: len(chunk)] = chunk
    bounds = buffer.filled(len(chunk))
    data = buffer.take(bounds[-1])
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def test_a_stream_split_at_every_byte_boundary_reads_the_same() -> None:
    stream, frames = _stream()
    for cut in range(len(stream) + 1):
        buffer = p.FrameBuffer()
        got = _read(buffer, stream[:cut]) + _read(buffer, stream[cut:])
        assert got == frames, cut
        assert buffer.pending == 0


def test_a_stream_read_one_octet_at_a_time() -> None:
    stream, frames = _stream()
    buffer = p.FrameBuffer()
    got: list[bytes] = []
    for i in range(len(stream)):
        got += _read(buffer, stream[i : i + 1])
    assert got == frames


def test_many_pdus_in_one_read() -> None:
    frames = [p.encode(p.SubmitSmResp(n, 0, f"{n:x}")) for n in range(1, 2001)]
    stream = b"".join(frames)
    buffer = p.FrameBuffer()
    assert len(buffer.space()) >= len(stream)
    assert _read(buffer, stream) == frames
    assert (buffer.pending, len(buffer.space())) == (0, len(buffer.buffer))


def test_the_largest_pdu_fits_behind_a_part_of_another() -> None:
    big = p.encode(p.DeliverSm(1, tlvs={p.Tag.MESSAGE_PAYLOAD: b"y" * 65_535}))
    small = p.encode(p.EnquireLink(2))
    buffer = p.FrameBuffer()
    stream = small + big + small
    got: list[bytes] = []
    off = 0
    while off < len(stream):
        size = min(len(buffer.space()), 4096, len(stream) - off)
        assert size > 0
        got += _read(buffer, stream[off : off + size])
        off += size
    assert got == [small, big, small]


def test_the_buffer_refuses_a_bad_length_as_soon_as_it_is_there() -> None:
    buffer = p.FrameBuffer()
    good = p.encode(p.EnquireLink(1))
    room = buffer.space()
    room[: len(good) + 3] = good + b"\x00\x00\x00"
    assert buffer.filled(len(good) + 3) == [0, len(good)]  # three octets of a length: wait
    buffer.take(len(good))
    buffer.space()[:1] = b"\x05"
    with pytest.raises(p.FrameError):
        buffer.filled(1)  # command_length 5


def _short_message_by_reader(body: bytes, sequence: int, status: int) -> p.DeliverSm:
    """deliver_sm decoded field by field with ``_Reader``: what from_body did before it was
    written out for speed."""
    r = p._Reader(body)
    return p.DeliverSm(
        sequence,
        status,
        r.cstr(),
        r.u8(),
        r.u8(),
        r.cstr(),
        r.u8(),
        r.u8(),
        r.cstr(),
        r.u8(),
        r.u8(),
        r.u8(),
        r.cstr(),
        r.cstr(),
        r.u8(),
        r.u8(),
        r.u8(),
        r.u8(),
        r.octets(r.u8()),
        r.tlvs(),
    )


def _outcome(decode: object, *args: object) -> object:
    try:
        return decode(*args)  # type: ignore[operator]
    except p.PduError:
        return p.PduError


@given(st.one_of(short_messages.map(lambda m: m.body()), st.binary(max_size=120)), u32, u32)
def test_deliver_sm_decoded_in_place_as_field_by_field(body: bytes, seq: int, status: int) -> None:
    expected = _outcome(_short_message_by_reader, body, seq, status)
    assert _outcome(p.DeliverSm.from_body, body, seq, status) == expected
    # in the middle of a read, with other octets around it
    buf = b"\xff" * 7 + body + b"\x00\x01" * 5
    assert _outcome(p.DeliverSm.parse, buf, 7, 7 + len(body), seq, status) == expected


@given(st.binary(max_size=60).map(lambda b: b[:59]), st.data())
def test_deliver_sm_cut_anywhere_refuses_or_decodes_as_field_by_field(
    tail: bytes, data: st.DataObject
) -> None:
    body = data.draw(short_messages).body() + tail
    cut = data.draw(st.integers(0, len(body)))
    expected = _outcome(_short_message_by_reader, body[:cut], 1, 0)
    assert _outcome(p.DeliverSm.parse, body, 0, cut, 1, 0) == expected
