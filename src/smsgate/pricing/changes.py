"""What importing a rate card would change in a price plan, shown before anything changes.

A rate is identified by its MCC and MNC (the MNC null for a country's default), as in the
import, which replaces the whole card: a rate of the plan that the card lacks is removed.
``apply_previewed`` imports the card only if the plan is still at the version the preview
was made against, so what the operator saw is what happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from smsgate.errors import Conflict
from smsgate.pricing import admin
from smsgate.pricing.models import PricePlan
from smsgate.pricing.service import RateRow, list_rates

Key = tuple[str, str]  # (mcc, mnc or "")


@dataclass(frozen=True, slots=True)
class RateChange:
    mcc: str
    mnc: str | None
    country: str
    network: str
    old: Decimal | None  # None: a new rate
    new: Decimal | None  # None: a removed rate


@dataclass(slots=True)
class RateChanges:
    plan: str
    version: int | None  # None: the import creates the plan
    rates: int  # in the card
    added: list[RateChange] = field(default_factory=list)
    changed: list[RateChange] = field(default_factory=list)
    removed: list[RateChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _key(mcc: str, mnc: str | None) -> Key:
    return (mcc, mnc or "")


def compare(plan: str, version: int | None, old: list[RateRow], new: list[RateRow]) -> RateChanges:
    """The difference between two cards; a rate whose price or names differ is changed."""
    before = {_key(r.mcc, r.mnc): r for r in old}
    out = RateChanges(plan, version, len(new))
    for row in sorted(new, key=lambda r: _key(r.mcc, r.mnc)):
        was = before.pop(_key(row.mcc, row.mnc), None)
        change = RateChange(
            row.mcc, row.mnc, row.country, row.network, was.price if was else None, row.price
        )
        if was is None:
            out.added.append(change)
        elif (was.price, was.country, was.network) != (row.price, row.country, row.network):
            out.changed.append(change)
        else:
            out.unchanged += 1
    for key in sorted(before):
        gone = before[key]
        out.removed.append(
            RateChange(gone.mcc, gone.mnc, gone.country, gone.network, gone.price, None)
        )
    return out


def _current(session: Session, name: str) -> tuple[int | None, list[RateRow]]:
    plan = session.scalar(select(PricePlan).where(PricePlan.name == name))
    if plan is None:
        admin.check_plan_name(name)
        return None, []
    rows = [
        RateRow(r.mcc, r.mnc, r.country, r.network, r.price) for r in list_rates(session, plan.id)
    ]
    return plan.version, rows


def preview_import(session: Session, name: str, text: str) -> RateChanges:
    """What ``admin.import_rates(session, name, text)`` would change; changes nothing.

    The card is checked exactly as the import checks it (``RateFileError`` on a bad line).
    """
    card = admin.read_card(text)
    version, rows = _current(session, name)
    return compare(name, version, rows, card)


def apply_previewed(
    session: Session, name: str, text: str, *, version: int | None, actor: str, address: str = ""
) -> tuple[PricePlan, int]:
    """Import the card if the plan is still at ``version`` (None: it did not exist)."""
    # Locked, so that an import between this check and ours waits for us (PostgreSQL; a
    # SQLite write transaction has the database to itself anyway).
    now = session.scalar(select(PricePlan.version).where(PricePlan.name == name).with_for_update())
    if now != version:
        raise Conflict(
            f"price plan {name!r} changed after this preview; upload the card again to see "
            "what it changes now",
            code="plan_changed",
        )
    return admin.import_rates(session, name, text, actor=actor, address=address)
