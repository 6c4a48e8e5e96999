"""CSV cells that a spreadsheet will not run as formulas (CSV injection).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``), and a leading tab or
carriage return can hide such a prefix. Every exported cell whose text comes from a user
goes through ``neutralise``: it gets a leading ``'``, which spreadsheets show as text and
hide. ``unneutralise`` undoes exactly that, so an export can be imported again unchanged;
for that a text that already looks quoted (``'=x``) gets one more ``'`` too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# A plain decimal number ("-5.00") is not a formula; signed amounts may stay numbers.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(value: object, *, allow_numbers: bool = False) -> str:
    """The cell as text, with a leading ``'`` if a spreadsheet would read it as a formula.

    ``None`` is the empty cell. With ``allow_numbers``, a plain decimal number such as
    ``-0.05`` is left as it is, so that spreadsheets still sum a signed amount column.
    """
    text = "" if value is None else str(value)
    if not text.lstrip(QUOTE).startswith(TRIGGERS):
        return text
    if allow_numbers and _NUMBER.fullmatch(text):
        return text
    return QUOTE + text


def unneutralise(text: str) -> str:
    """Undo ``neutralise``: drop one of the ``'`` that stand before a formula trigger."""
    if text.startswith(QUOTE) and text.lstrip(QUOTE).startswith(TRIGGERS):
        return text[1:]
    return text


def safe_row(values: Iterable[object], *, allow_numbers: bool = False) -> list[str]:
    return [neutralise(v, allow_numbers=allow_numbers) for v in values]


def to_csv(
    header: Iterable[str], rows: Iterable[Iterable[object]], *, allow_numbers: bool = False
) -> str:
    """A whole CSV document (``\\r\\n`` line ends, as RFC 4180) with every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow(safe_row(row, allow_numbers=allow_numbers))
    return out.getvalue()
