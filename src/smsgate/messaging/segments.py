"""SMS segment counting, hand-written: PyPI has GSM codecs (gsm0338) but no maintained splitter."""

from __future__ import annotations

import enum
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

__all__ = ["Encoding", "SegmentCount", "count_segments", "is_gsm7", "split_parts"]


class Encoding(enum.StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    parts: int  # number of SMS parts (0 for "")
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text
    per_part: int  # capacity of one part for this message (160/153/70/67)
    remaining: int  # units still free in the last part


# GSM 03.38 default alphabet (0x1B ESC excluded) and its extension table (2 septets each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = "\f^{}\\[~]|€"
_GSM_ALL = _GSM_BASIC | frozenset(_GSM_EXT)
_ASCII_BASIC = bytes(sorted(ord(c) for c in _GSM_BASIC if c.isascii()))
_ASCII_ALL = bytes(sorted(ord(c) for c in _GSM_ALL if c.isascii()))
_ASCII_EXT = bytes(ord(c) for c in _GSM_EXT if c.isascii())
_EXT_RE = re.compile("[" + re.escape(_GSM_EXT) + "]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_CAPACITY = {Encoding.GSM7: (160, 153), Encoding.UCS2: (70, 67)}


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM 03.38 basic or extension table."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _ASCII_ALL)
    return _GSM_ALL.issuperset(text)


def _measure(text: str) -> tuple[Encoding, int, int]:
    """Encoding, total units, and how many characters take two units."""
    if text.isascii():
        rest = text.encode("ascii").translate(None, _ASCII_BASIC)
        if not rest:
            return Encoding.GSM7, len(text), 0
        if not rest.translate(None, _ASCII_EXT):
            return Encoding.GSM7, len(text) + len(rest), len(rest)
        return Encoding.UCS2, len(text), 0  # ASCII control chars or backtick
    if _GSM_ALL.issuperset(text):
        wide = sum(map(text.count, _GSM_EXT))
        return Encoding.GSM7, len(text) + wide, wide
    units = len(text.encode("utf-16-le", "surrogatepass")) >> 1
    return Encoding.UCS2, units, units - len(text)


def _wide_offsets(text: str, encoding: Encoding) -> list[int]:
    """Unit offsets (ascending) at which a two-unit character starts."""
    pattern = _EXT_RE if encoding is Encoding.GSM7 else _ASTRAL_RE
    return [m.start() + i for i, m in enumerate(pattern.finditer(text))]


def _unit_cuts(units: int, cap: int, wide: set[int]) -> list[int]:
    """Greedy part boundaries in units; a two-unit character is never cut."""
    cuts: list[int] = []
    start = 0
    while units - start > cap:
        end = start + cap
        if end - 1 in wide:
            end -= 1
        cuts.append(end)
        start = end
    return cuts


@lru_cache(maxsize=4096)
def _count(text: str) -> SegmentCount:
    encoding, units, wide = _measure(text)
    single, multi = _CAPACITY[encoding]
    if units <= single:
        return SegmentCount(encoding, 1 if units else 0, units, single, single - units)
    if wide:
        cuts = _unit_cuts(units, multi, set(_wide_offsets(text, encoding)))
        parts, last = len(cuts) + 1, units - cuts[-1]
    else:
        parts = -(-units // multi)
        last = units - (parts - 1) * multi
    return SegmentCount(encoding, parts, units, multi, multi - last)


def count_segments(text: str) -> SegmentCount:
    """Encoding, number of parts and unit usage of ``text`` ("" gives parts=0)."""
    return _count(text)


def split_parts(text: str) -> list[str]:
    """``text`` cut into its SMS parts; ``"".join(split_parts(t)) == t``."""
    encoding, units, wide = _measure(text)
    single, multi = _CAPACITY[encoding]
    if units <= single:
        return [text] if text else []
    offsets = _wide_offsets(text, encoding) if wide else []
    cuts = _unit_cuts(units, multi, set(offsets))
    bounds = [0, *(u - bisect_left(offsets, u) for u in cuts), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]
