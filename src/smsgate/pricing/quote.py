"""A price before sending: one text to many numbers, grouped by destination."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.errors import InvalidRequest
from smsgate.messaging.segments import SegmentCount, count_segments
from smsgate.numbering import Destination
from smsgate.pricing.service import RateBooks, charge_for


@dataclass(slots=True)
class QuoteLine:
    destination: str
    mcc: str | None
    mnc: str | None
    rate: Decimal
    numbers: list[str] = field(default_factory=list)
    parts: int = 0  # parts of all messages to this destination
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


@dataclass(slots=True)
class Quote:
    segments: SegmentCount
    lines: list[QuoteLine]
    currency: str

    @property
    def parts(self) -> int:
        return sum(line.parts for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.subtotal for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


def quote(
    session: Session, books: RateBooks, account_id: int, text: str, destinations: list[Destination]
) -> Quote:
    """Price exactly as acceptance will charge: per message (parts x rate) plus its tax."""
    account = get_account(session, account_id)
    if not text:
        raise InvalidRequest("the message text is empty", field="text", code="text_required")
    segments = count_segments(text)
    plan = account.price_plan_id
    book = books.get(session, [plan]).get(plan) if plan is not None else None
    # Keyed like acceptance prices (by MCC/MNC), not by name alone: two networks may share a
    # display name (Germany O2 is 262/03 and 262/07) and have different rates.
    lines: dict[tuple[str, str | None, str | None], QuoteLine] = {}
    for dest in destinations:
        key = (dest.name, dest.mcc, dest.mnc)
        line = lines.get(key)
        if line is None:
            rate = book.rate(dest.mcc, dest.mnc) if book else None
            if rate is None:
                raise InvalidRequest(
                    f"no rate for destination {dest.name} (+{dest.msisdn})",
                    field="to",
                    code="no_rate",
                )
            line = lines[key] = QuoteLine(dest.name, dest.mcc, dest.mnc, rate)
        net, tax = charge_for(segments.parts, line.rate, account.tax_rate)
        line.numbers.append(dest.msisdn)
        line.parts += segments.parts
        line.subtotal += net
        line.tax += tax
    return Quote(segments, list(lines.values()), account.currency)
