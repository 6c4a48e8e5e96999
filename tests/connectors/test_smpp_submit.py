from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.connectors.base import OutboundMessage
from smsgate.connectors.smpp import gsm
from smsgate.connectors.smpp.pdu import PduError, Tag, encode, tlv_int
from smsgate.connectors.smpp.submit import (
    DataCoding,
    EncodeError,
    LongMessages,
    SubmitBuilder,
    _encode_parts,
    _split_parts,
    relative_validity,
    source_address,
)
from smsgate.messaging.segments import count_segments


def msg(text: str, sender: str = "Acme", msisdn: str = "37120000000") -> OutboundMessage:
    seg = count_segments(text)
    return OutboundMessage(1, msisdn, sender, text, seg.parts, seg.encoding.value)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("Acme", (5, 0, "Acme")),
        ("Acme 24", (5, 0, "Acme 24")),
        ("4546", (3, 0, "4546")),
        ("12345678", (3, 0, "12345678")),
        ("123456789", (1, 1, "123456789")),
        ("+4546", (1, 1, "4546")),
        ("+37120000000", (1, 1, "37120000000")),
        ("", (0, 0, "")),
    ],
)
def test_source_address(sender: str, expected: tuple[int, int, str]) -> None:
    assert source_address(sender) == expected


def test_single_gsm_part() -> None:
    (pdu,) = SubmitBuilder().build(msg("Hello €", msisdn="+37120000000"))
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (1, 1, "37120000000")
    assert (pdu.data_coding, pdu.esm_class, pdu.registered_delivery) == (0, 0, 1)
    assert pdu.short_message == gsm.encode("Hello €")
    assert pdu.tlvs == {}


@given(st.text(st.sampled_from("abc €[]{}^"), min_size=161, max_size=700))
def test_udh_parts_match_the_price_and_never_cut_an_escape(text: str) -> None:
    pdus = SubmitBuilder().build(msg(text))
    assert len(pdus) == count_segments(text).parts
    payload = b""
    for n, pdu in enumerate(pdus, 1):
        udh, body = pdu.short_message[:6], pdu.short_message[6:]
        assert udh[:3] == b"\x05\x00\x03"
        assert (udh[4], udh[5]) == (len(pdus), n)
        assert len(body) <= 153
        assert not body.endswith(b"\x1b")
        assert pdu.esm_class == 0x40
        encode(pdu)  # fits a PDU
        payload += body
    assert gsm.decode(payload) == text
    assert len({p.short_message[3] for p in pdus}) == 1


def test_references_change_from_message_to_message() -> None:
    builder = SubmitBuilder(long_messages=LongMessages.SAR)
    first = builder.build(msg("x" * 200))
    second = builder.build(msg("x" * 200))
    ref = tlv_int(first[0].tlvs, Tag.SAR_MSG_REF_NUM)
    assert ref is not None
    assert tlv_int(second[0].tlvs, Tag.SAR_MSG_REF_NUM) == ref + 1
    assert [tlv_int(p.tlvs, Tag.SAR_SEGMENT_SEQNUM) for p in first] == [1, 2]
    assert {tlv_int(p.tlvs, Tag.SAR_TOTAL_SEGMENTS) for p in first} == {2}
    assert {p.esm_class for p in first} == {0}


def test_ucs2_text_and_surrogates() -> None:
    text = "😀" * 40  # 80 UTF-16 units: two parts, a pair never cut
    pdus = SubmitBuilder().build(msg(text))
    assert len(pdus) == 2 == count_segments(text).parts
    joined = b"".join(p.short_message[6:] for p in pdus)
    assert joined.decode("utf-16-be") == text
    assert {p.data_coding for p in pdus} == {8}
    for p in pdus:
        p.short_message[6:].decode("utf-16-be")  # each part is whole on its own


def test_forced_ucs2_sends_more_parts() -> None:
    pdus = SubmitBuilder(data_coding=DataCoding.UCS2).build(msg("a" * 100))
    assert [len(p.short_message) for p in pdus] == [6 + 134, 6 + 66]
    assert {p.data_coding for p in pdus} == {8}


def test_latin1_and_its_gsm_fallback() -> None:
    builder = SubmitBuilder(data_coding=DataCoding.LATIN1)
    (pdu,) = builder.build(msg("Café {x}"))
    assert (pdu.data_coding, pdu.short_message) == (3, "Café {x}".encode("latin-1"))
    (pdu,) = builder.build(msg("Δ costs 5€"))  # Latin-1 has neither
    assert (pdu.data_coding, pdu.short_message) == (0, gsm.encode("Δ costs 5€"))


def test_payload_mode() -> None:
    text = "word " * 100
    (pdu,) = SubmitBuilder(long_messages=LongMessages.PAYLOAD).build(msg(text))
    assert pdu.short_message == b""
    assert pdu.tlvs == {Tag.MESSAGE_PAYLOAD: gsm.encode(text)}


def test_too_many_parts() -> None:
    with pytest.raises(EncodeError):
        SubmitBuilder().build(msg("x" * 153 * 256))


def test_validity_and_registered_delivery() -> None:
    (pdu,) = SubmitBuilder(validity_seconds=2 * 86400 + 3723, registered_delivery=False).build(
        msg("hi")
    )
    assert pdu.validity_period == "000002010203000R"
    assert pdu.registered_delivery == 0
    assert relative_validity(10**9)[:6] == "000099"


# --- the fast path: bodies() and the one-part shortcut say what build() and body() say ---

TEXT_CHARS = "aZ0 .€{}^ßΔüç`\nЖ😀é"  # GSM, GSM extension, Latin-1 only, neither, astral
SENDERS = ["", "Acme", "Acme 24", "4546", "+37120000000", "123456789", "Ünïcode €", "x" * 21]
NUMBERS = ["37120000000", "+37120000000", " 3712 ", "1" * 21, "37\x0012", "3712€"]


def _reference(builder: SubmitBuilder, m: OutboundMessage) -> object:
    """What build() then each PDU's body() give, or which of the two refused, and how."""
    try:
        pdus = builder.build(m)
    except ValueError as exc:
        return ("build", type(exc))
    try:
        return [p.body() for p in pdus]
    except PduError:
        return ("body", PduError)


def _fast(builder: SubmitBuilder, m: OutboundMessage) -> object:
    try:
        return builder.bodies(m)
    except PduError:
        return ("body", PduError)
    except ValueError as exc:
        return ("build", type(exc))


@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from(TEXT_CHARS), max_size=400)
            | st.sampled_from(["", "\ud800", "x" * 160, "x" * 161, "€" * 80, "€" * 81]),
            st.sampled_from(SENDERS),
            st.sampled_from(NUMBERS),
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(list(DataCoding)),
    st.sampled_from(list(LongMessages)),
    st.booleans(),
    st.sampled_from([None, 3600]),
)
def test_bodies_are_the_octets_of_build(
    messages: list[tuple[str, str, str]],
    coding: DataCoding,
    long_messages: LongMessages,
    registered: bool,
    validity: int | None,
) -> None:
    options = {
        "data_coding": coding,
        "long_messages": long_messages,
        "registered_delivery": registered,
        "validity_seconds": validity,
    }
    reference, fast = SubmitBuilder(**options), SubmitBuilder(**options)  # type: ignore[arg-type]
    for text, sender, number in messages:
        m = OutboundMessage(1, number, sender, text, 1, "gsm7")
        assert _fast(fast, m) == _reference(reference, m)


@given(st.text(st.sampled_from(TEXT_CHARS), max_size=200), st.sampled_from(list(DataCoding)))
def test_the_one_part_shortcut_splits_as_split_parts(text: str, coding: DataCoding) -> None:
    try:
        expected: object = _split_parts(text, coding)
    except UnicodeEncodeError:
        expected = UnicodeEncodeError
    try:
        got: object = _encode_parts(text, coding)
    except UnicodeEncodeError:
        got = UnicodeEncodeError
    assert got == expected
