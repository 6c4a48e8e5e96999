from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.connectors.smpp.ids import Conversion, ReceiptIds, normalize_message_id


@pytest.mark.parametrize(
    ("raw", "conversion", "expected"),
    [
        ("0A1b", Conversion.SAME, "a1b"),
        ("a1b", Conversion.SAME, "a1b"),
        (" 000A1B ", Conversion.SAME, "a1b"),
        ("0000", Conversion.SAME, "0"),
        ("", Conversion.SAME, ""),
        ("2587", Conversion.DEC_TO_HEX, "a1b"),
        ("0A1B", Conversion.HEX_TO_DEC, "2587"),
        ("a1b", Conversion.DEC_TO_HEX, "a1b"),  # not decimal: left alone
        ("1-2-3", Conversion.HEX_TO_DEC, "1-2-3"),
        ("550E8400-E29B-41D4", Conversion.SAME, "550e8400-e29b-41d4"),
        ("x" * 100, Conversion.SAME, "x" * 64),
        ("9" * 5000, Conversion.DEC_TO_HEX, "9" * 64),  # never converts a huge number
    ],
)
def test_normalize(raw: str, conversion: Conversion, expected: str) -> None:
    assert normalize_message_id(raw, conversion) == expected


@given(st.integers(0, 2**64), st.integers(0, 6), st.booleans())
def test_any_spelling_of_a_hex_id_matches(value: int, zeros: int, upper: bool) -> None:
    resp = "0" * zeros + format(value, "X" if upper else "x")
    uid = normalize_message_id(resp)
    assert normalize_message_id(resp.lower()) == uid
    assert normalize_message_id(str(value), Conversion.DEC_TO_HEX) == uid
    assert normalize_message_id(str(int(uid, 16)) if uid else "0", Conversion.DEC_TO_HEX) == uid


def learn(ids: ReceiptIds, pairs: list[tuple[str, str]]) -> list[str | None]:
    for resp, _ in pairs:
        ids.submitted(resp)
    return [ids.receipt(receipt) for _, receipt in pairs]


def test_learns_decimal_receipts_of_hex_ids() -> None:
    ids = ReceiptIds()
    pairs = [(format(0x0A000000 + n * 7919, "010X"), str(0x0A000000 + n * 7919)) for n in range(5)]
    got = learn(ids, pairs)
    assert got == [normalize_message_id(r) for r, _ in pairs]
    assert ids.conversion is Conversion.DEC_TO_HEX
    assert ids.receipt("0") == "0"


def test_learns_hex_receipts_of_decimal_ids() -> None:
    ids = ReceiptIds()
    pairs = [(str(10_000_000 + n * 977), format(10_000_000 + n * 977, "x")) for n in range(5)]
    assert learn(ids, pairs) == [r for r, _ in pairs]
    assert ids.conversion is Conversion.HEX_TO_DEC


def test_learns_that_nothing_needs_converting() -> None:
    ids = ReceiptIds()
    pairs = [(f"{n:08x}a", f"{n:08X}A") for n in range(1000, 1005)]
    assert learn(ids, pairs) == [normalize_message_id(r) for r, _ in pairs]
    assert ids.conversion is Conversion.SAME


def test_unseen_ambiguous_id_is_held_and_unambiguous_is_not() -> None:
    ids = ReceiptIds()
    assert ids.receipt("1234") is None  # decimal, or hex without letters: unknown yet
    assert ids.receipt("7") == "7"  # every reading agrees
    assert ids.receipt("a-b") == "a-b"  # no reading but as is
    assert ids.fallback("01234") == "1234"
    ids.submitted("4d2")
    assert ids.receipt("1234") == "4d2"


def test_a_configured_conversion_learns_nothing() -> None:
    ids = ReceiptIds(Conversion.DEC_TO_HEX)
    assert ids.submitted("0A1B") == "a1b"
    assert ids.receipt("2587") == "a1b"


def test_memory_is_bounded() -> None:
    ids = ReceiptIds(memory=3)
    for n in range(10):
        ids.submitted(format(0xABC000 + n, "x"))
    assert ids.receipt(str(0xABC000)) is None  # forgotten
    assert ids.receipt(str(0xABC009)) == "abc009"


def test_recovered_ids_help_learning() -> None:
    ids = ReceiptIds()
    ids.remember(["a1b2c3", "a1b2c4", "a1b2c5"])
    assert [ids.receipt(str(v)) for v in (0xA1B2C3, 0xA1B2C4, 0xA1B2C5)] == [
        "a1b2c3",
        "a1b2c4",
        "a1b2c5",
    ]
    assert ids.conversion is Conversion.DEC_TO_HEX
