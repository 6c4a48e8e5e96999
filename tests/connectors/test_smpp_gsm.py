from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.connectors.smpp import gsm
from smsgate.messaging.segments import count_segments, is_gsm7

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"
gsm_text = st.text(st.sampled_from(BASIC + EXTENSION), max_size=400)


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("@", b"\x00"),
        ("A", b"\x41"),
        ("¿à", b"\x60\x7f"),
        ("Δ_", b"\x10\x11"),
        ("€", b"\x1b\x65"),
        ("[x]", b"\x1b\x3cx\x1b\x3e"),
        ("\f", b"\x1b\x0a"),
        ("$¤", b"\x02\x24"),
    ],
)
def test_known_septets(text: str, septets: bytes) -> None:
    assert gsm.encode(text) == septets
    assert gsm.decode(septets) == text


@given(gsm_text)
def test_round_trip_and_septet_count(text: str) -> None:
    septets = gsm.encode(text)
    assert gsm.decode(septets) == text
    assert all(b < 0x80 for b in septets)
    assert len(septets) == count_segments(text).units  # the price counts the same septets


@given(st.text(max_size=50))
def test_encode_accepts_exactly_what_segments_calls_gsm7(text: str) -> None:
    if is_gsm7(text):
        assert gsm.decode(gsm.encode(text)) == text
    else:
        with pytest.raises(ValueError, match=r"GSM 03\.38"):
            gsm.encode(text)


def test_decode_is_lenient() -> None:
    assert gsm.decode(b"\x1b\x41") == "A"  # escape to nothing: the basic character
    assert gsm.decode(b"\x1b\x1b") == " "
    assert gsm.decode(b"a\x80") == "a\ufffd"
    assert gsm.decode(b"a\x1b") == "a"
