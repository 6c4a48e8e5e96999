"""Money: Decimal in, integer micro-units in the database, exact text out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.kit.money import (
    SCALE,
    InvalidAmount,
    format_amount,
    from_units,
    parse_amount,
    round_money,
    to_units,
)

LIMIT = Decimal(10) ** 12
AMOUNTS = st.decimals(
    min_value=-LIMIT + Decimal("0.000001"),
    max_value=LIMIT - Decimal("0.000001"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)
FEW_PLACES = st.integers(min_value=0, max_value=6).flatmap(
    lambda places: st.decimals(
        min_value=-LIMIT + 1,
        max_value=LIMIT - 1,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)


# --------------------------------------------------------------------- units


@given(FEW_PLACES)
def test_units_round_trip(amount: Decimal) -> None:
    units = to_units(amount)
    assert isinstance(units, int)
    assert units == amount * SCALE
    back = from_units(units)
    assert back == amount
    assert isinstance(back, Decimal)
    assert back.as_tuple().exponent == -6  # always six places out of the database


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_every_bigint_reads_back_exactly(units: int) -> None:
    assert to_units(from_units(units)) == units


@pytest.mark.parametrize(
    ("amount", "units"),
    [
        ("0", 0),
        ("1", 1_000_000),
        ("0.045", 45_000),
        ("-2.5", -2_500_000),
        ("0.0000005", 1),
        ("0.0000004999", 0),
        ("-0.0000005", -1),  # half up (away from 0)
        ("1.2345675", 1_234_568),
    ],
)
def test_to_units_rounds_half_up_at_the_sixth_place(amount: str, units: int) -> None:
    assert to_units(Decimal(amount)) == units


def test_round_money() -> None:
    assert round_money(Decimal("0.1234565")) == Decimal("0.123457")
    assert round_money(Decimal("0.125"), 2) == Decimal("0.13")
    assert round_money(Decimal("-0.125"), 2) == Decimal("-0.13")
    assert str(round_money(Decimal(3))) == "3.000000"


# --------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10", "10"),
        (" 0.5 ", "0.5"),
        ("0.045", "0.045"),
        ("+3", "3"),
        ("1e3", "1000"),
        ("1.0000005", "1.000001"),
        ("0.00000049", "0"),
        (Decimal("2.5"), "2.5"),
        (7, "7"),
        (0.1, "0.1"),  # through str(): 0.1, not 0.1000000000000000055511151231257827
        ("999999999999.999999", "999999999999.999999"),
        ("-0", "0"),
    ],
)
def test_parse_amount_accepts(raw: object, expected: str) -> None:
    value = parse_amount(raw)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)
    assert value.as_tuple().exponent == -6
    assert not value.is_signed() or value < 0  # no negative zero


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "",
        "   ",
        "1,5",
        "1.2.3",
        "0x10",
        "1 000",
        "1_000",
        "١٢",
        "１２",
        "€5",
        "5 EUR",
        "NaN",
        "nan",
        "sNaN",
        "-NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "Inf",
        "1e400",
        "1e12",
        "-1e12",
        "1000000000000",
        "999999999999.9999999",
        True,
        False,
        None,
        float("nan"),
        float("inf"),
        [],
        {},
    ],
)
def test_parse_amount_refuses(raw: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(raw, allow_negative=True)
    assert repr(raw) in str(caught.value)  # the message names what was given
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("raw", ["-1", "-0.000001", Decimal("-5"), -3])
def test_parse_amount_negative_only_when_allowed(raw: object) -> None:
    with pytest.raises(InvalidAmount, match="must not be negative"):
        parse_amount(raw)
    assert parse_amount(raw, allow_negative=True) == Decimal(str(raw))


@given(AMOUNTS)
def test_parse_amount_of_text_round_trips(amount: Decimal) -> None:
    assert parse_amount(str(amount), allow_negative=True) == amount
    assert parse_amount(format_amount(amount), allow_negative=True) == amount


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_amount_of_floats_never_leaks_binary_noise(raw: float) -> None:
    try:
        value = parse_amount(raw, allow_negative=True)
    except InvalidAmount:
        return
    assert isinstance(value, Decimal)
    assert value == round_money(Decimal(repr(raw)))


# --------------------------------------------------------------------- format_amount


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.0450000"), "0.045"),
        (Decimal("12"), "12.00"),
        (Decimal("12.5"), "12.50"),
        (Decimal("0"), "0.00"),
        (Decimal("100"), "100.00"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("-1.5"), "-1.50"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("1E-6"), "0.000001"),
        (Decimal("123456789012.123456"), "123456789012.123456"),
        (0, "0.00"),  # callers pass a plain 0 for a missing balance
        (Decimal("-0.000000"), "0.00"),
        (Decimal("-0.0000001"), "0.00"),  # no "-0.00"
        (Decimal("0.0000005"), "0.000001"),  # half up, like all money (not half even)
    ],
)
def test_format_amount(amount: Decimal, text: str) -> None:
    assert format_amount(amount) == text


def test_format_amount_min_places() -> None:
    assert format_amount(Decimal("12"), 0) == "12"  # not "12."
    assert format_amount(Decimal("12.5"), 0) == "12.5"
    assert format_amount(Decimal("0.045"), 4) == "0.0450"
    assert format_amount(Decimal("0.123456"), 4) == "0.123456"


@given(AMOUNTS)
def test_format_amount_is_exact_and_plain(amount: Decimal) -> None:
    text = format_amount(amount)
    assert "e" not in text.lower()
    assert Decimal(text) == amount
    whole, _, frac = text.partition(".")
    assert 2 <= len(frac) <= 6
    assert whole.lstrip("-").isdigit()
