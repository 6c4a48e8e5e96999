"""Money is ``Decimal`` everywhere; in the database it is an integer of micro-units.

Integers sum exactly in SQL on SQLite and PostgreSQL alike (SQLite has no decimal type and
would turn ``SUM`` of text into a float), so amounts are stored scaled by 10**6.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

SCALE = 10**6
_QUANTUM = Decimal(1) / SCALE
_LIMIT = Decimal(10) ** 12  # amounts are below a trillion


class InvalidAmount(ValueError):
    pass


def to_units(amount: Decimal) -> int:
    """Scale an amount to integer micro-units, rounding half up at the sixth decimal."""
    return int((amount * SCALE).to_integral_value(rounding=ROUND_HALF_UP))


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).quantize(_QUANTUM)


def parse_amount(raw: object, *, allow_negative: bool = False) -> Decimal:
    """Parse user input into a Decimal, refusing floats' binary noise, NaN and infinities."""
    if isinstance(raw, bool) or raw is None:
        raise InvalidAmount(f"{raw!r} is not an amount")
    text = str(raw).strip()
    # Decimal() itself also takes "1_000" and non-ASCII digits such as "١٢" or "１２"
    if not text.isascii() or "_" in text:
        raise InvalidAmount(f"{raw!r} is not an amount")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"{raw!r} is not an amount") from exc
    if not value.is_finite():
        raise InvalidAmount(f"{raw!r} is not an amount")
    if value < 0 and not allow_negative:
        raise InvalidAmount(f"{raw!r} must not be negative")
    if abs(value) >= _LIMIT:
        raise InvalidAmount(f"{raw!r} is too large")
    value = value.quantize(_QUANTUM, rounding=ROUND_HALF_UP) + 0  # "+ 0": no "-0.000000"
    if abs(value) >= _LIMIT:  # 999999999999.9999999 rounds up to the limit
        raise InvalidAmount(f"{raw!r} is too large")
    return value


def round_money(amount: Decimal, places: int = 6) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, min_places: int = 2) -> str:
    """'0.0450000' -> '0.045', '12' -> '12.00': exact, no float, no exponent."""
    # Rounded half up like every amount (the format spec alone rounds half even); "+ 0" turns
    # a negative zero such as round_money(Decimal("-0.0000001")) into "0.00", not "-0.00".
    value = Decimal(amount).quantize(_QUANTUM, rounding=ROUND_HALF_UP) + 0
    text = f"{value:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    frac = frac.ljust(min_places, "0")
    return f"{whole}.{frac}" if frac else whole
