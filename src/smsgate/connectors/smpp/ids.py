"""Upstream message ids: one normal form for submit_sm_resp and receipts alike.

SMSCs disagree with themselves. submit_sm_resp may say ``0A1B2C`` while the receipt says
``a1b2c``, ``000a1b2c``, or the same number in decimal (``660268``), or the other way round.
The dispatcher matches a receipt to its part by exact string, so every id this connector
reports, from either side, goes through ``normalize_message_id``:

1. strip white space, lower-case;
2. receipts only, and only once the connector knows its SMSC needs it: read the id in the
   receipt's base and write it in the base of the submit_sm_resp ids (``dec_to_hex`` or
   ``hex_to_dec``); submit_sm_resp ids are never converted, they are stored as returned;
3. strip leading zeros (``"000"`` becomes ``"0"``); cut to 64 characters, the spec's maximum.

Which conversion a connector needs is learned per connector by ``ReceiptIds``, from evidence
rather than from the look of the ids: a hex id that happens to have no letter looks
decimal, and a decimal receipt never shows a letter, so one id tells nothing. It keeps the
normal forms of recent submit_sm_resp ids, and reads each receipt id every way that applies
(as is; decimal to hex if all digits; hex to decimal if all hex digits). If exactly one
reading is an id it has seen, that is the match, and the conversion that produced it gets a
vote. Once one conversion has 3 votes and at least ten times as many as any other, it is
fixed for the connector's lifetime and the remembered ids are dropped. A receipt whose
readings are all the same string needs no decision. One that is still ambiguous is held by
the caller and asked again later; after ``hold`` seconds it is read as is. An operator who
knows the SMSC sets the conversion (``receipt_ids``) and nothing is learned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum

__all__ = ["Conversion", "ReceiptIds", "normalize_message_id"]

MAX_ID_LENGTH = 64
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-f]+")


class Conversion(StrEnum):
    SAME = "same"
    DEC_TO_HEX = "dec_to_hex"  # receipts in decimal, submit_sm_resp in hex
    HEX_TO_DEC = "hex_to_dec"  # receipts in hex, submit_sm_resp in decimal


# The members as plain names: an enum member's attribute lookup costs 0.1 µs on Python 3.11,
# and these run for every submit_sm_resp and receipt.
_SAME, _DEC_TO_HEX, _HEX_TO_DEC = Conversion.SAME, Conversion.DEC_TO_HEX, Conversion.HEX_TO_DEC

_CONVERSIONS = (_SAME, _DEC_TO_HEX, _HEX_TO_DEC)


def _applies(conversion: Conversion, text: str) -> bool:
    if conversion is _DEC_TO_HEX:
        return len(text) <= MAX_ID_LENGTH and _DECIMAL.fullmatch(text) is not None
    if conversion is _HEX_TO_DEC:
        return len(text) <= MAX_ID_LENGTH and _HEX.fullmatch(text) is not None
    return True


def normalize_message_id(raw: str, conversion: Conversion = _SAME) -> str:
    """The form in which an upstream id is reported, for submit_sm_resp and receipts alike.

    ``conversion`` is for receipt ids only; an id it does not apply to (letters in a
    "decimal" id) is left in its own base.
    """
    text = raw.strip().lower()
    if conversion is not _SAME and _applies(conversion, text):
        text = format(int(text), "x") if conversion is _DEC_TO_HEX else str(int(text, 16))
    text = text.lstrip("0") or ("0" if text else "")
    return text[:MAX_ID_LENGTH]


class ReceiptIds:
    """Learns, per connector, how its receipts write the ids of its submit_sm_resp."""

    def __init__(
        self, conversion: Conversion | None = None, *, memory: int = 100_000, votes: int = 3
    ) -> None:
        self.conversion = conversion  # None while learning
        self._memory = memory
        self._votes_needed = votes
        self._seen: dict[str, None] = {}  # insertion-ordered set of recent normal ids
        self._votes: Counter[Conversion] = Counter()

    def submitted(self, raw: str) -> str:
        """The normal form of a submit_sm_resp id (what the connector reports)."""
        uid = normalize_message_id(raw)
        if self.conversion is None:
            self._remember(uid)
        return uid

    def remember(self, uids: Iterable[str]) -> None:
        """Ids already in normal form (parts still waiting for a receipt after a restart)."""
        if self.conversion is None:
            for uid in uids:
                self._remember(uid)

    def _remember(self, uid: str) -> None:
        self._seen[uid] = None
        if len(self._seen) > self._memory:
            del self._seen[next(iter(self._seen))]

    def receipt(self, raw: str) -> str | None:
        """The normal form of a receipt id, or None if it cannot be decided yet (hold it and
        ask again, or give up with ``fallback``)."""
        if self.conversion is not None:
            return normalize_message_id(raw, self.conversion)
        text = raw.strip().lower()
        readings = {c: normalize_message_id(text, c) for c in _CONVERSIONS if _applies(c, text)}
        distinct = set(readings.values())
        if len(distinct) == 1:
            return distinct.pop()
        known = [uid for uid in distinct if uid in self._seen]
        if len(known) != 1:
            return None
        uid = known[0]
        self._votes.update(c for c, reading in readings.items() if reading == uid)
        self._maybe_fix()
        return uid

    @staticmethod
    def fallback(raw: str) -> str:
        """What a receipt id held too long is taken to be: the same base as submit_sm_resp."""
        return normalize_message_id(raw)

    def _maybe_fix(self) -> None:
        ranked = self._votes.most_common()
        best, count = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if count >= self._votes_needed and count >= 10 * runner_up:
            self.conversion = best
            self._seen.clear()
