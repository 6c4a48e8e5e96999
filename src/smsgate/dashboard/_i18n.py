"""Translations and locale-aware formatting for the dashboard (Babel).

English is the source language: its strings are the message ids, so ``en`` needs no
catalog. Other locales are read from ``locale/<ll>/LC_MESSAGES/messages.po`` and compiled in
memory the first time they are needed (Babel's ``write_mo``), so no compiled ``.mo`` file is
kept in the tree or can fall out of step with its ``.po``. Fuzzy entries are left out, as
``msgfmt`` does.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

from smsgate.dashboard.users import LOCALES
from smsgate.kit.money import format_amount

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    if locale not in LOCALES or locale == "en":
        return gettext.NullTranslations()
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(accept_language: str) -> str:
    """The best of our locales for an ``Accept-Language`` header; English otherwise."""
    wanted = []
    for item in accept_language.split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag:
            wanted.append((quality, tag.strip()))
    wanted.sort(key=lambda pair: -pair[0])
    found = Locale.negotiate([tag for _, tag in wanted], list(LOCALES), sep="-")
    return str(found) if found else "en"


@dataclass(frozen=True, slots=True)
class Formatter:
    """Amounts and moments as a reader of ``locale`` expects them, in the account's zone."""

    locale: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def money(self, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return "–"
        # Exact: no rounding to cents (a rate of 0.045 stays 0.045), trailing zeros trimmed.
        exact = Decimal(format_amount(amount))
        return format_currency(exact, currency, locale=self.locale, decimal_quantization=False)

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=self.locale, decimal_quantization=False)

    def percent(self, ratio: float | Decimal | None) -> str:
        return "–" if ratio is None else format_percent(ratio, "#,##0.#%", locale=self.locale)

    def moment(self, when: datetime | None, form: str = "medium") -> str:
        if when is None:
            return "–"
        return format_datetime(when, form, tzinfo=self.zone, locale=self.locale)

    def day(self, when: datetime, form: str = "medium") -> str:
        return format_date(when.astimezone(self.zone), form, locale=self.locale)

    def local_input(self, when: datetime | None) -> str:
        """The value of an ``<input type=datetime-local>`` for ``when``, in the zone."""
        return "" if when is None else when.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")
