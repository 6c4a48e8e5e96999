"""STOP / START: the first word of an inbound message, compared with the configured lists.

Comparison is case-insensitive (``str.casefold``) after Unicode NFC normalisation; the
apostrophes Uzbek Latin is written with (ʻ ’ ‘ ʼ `) all count as ``'``, and punctuation
around the word is ignored, so ``"Stop."``, ``"stop please"`` and ``"toʻxtat"`` match.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from smsgate.config import Settings

__all__ = ["Keyword", "Keywords"]

_APOSTROPHES = str.maketrans(dict.fromkeys("ʻʼ‘’`´", "'"))
_AROUND = ".,!?;:\"()[]{}<>*-_'«»"


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def _norm(word: str) -> str:
    return unicodedata.normalize("NFC", word).translate(_APOSTROPHES).strip(_AROUND).casefold()


def _parse(listed: str) -> frozenset[str]:
    return frozenset(w for w in (_norm(x.strip()) for x in listed.split(",")) if w)


@dataclass(frozen=True, slots=True)
class Keywords:
    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Keywords:
        return cls(_parse(settings.opt_out_keywords), _parse(settings.opt_in_keywords))

    def classify(self, text: str) -> tuple[Keyword, str] | None:
        """(what the message asks, the word as sent), or None for an ordinary message."""
        words = text.split(None, 1)
        if not words:
            return None
        word = _norm(words[0])
        if word in self.opt_out:
            return Keyword.OPT_OUT, words[0][:40]
        if word in self.opt_in:
            return Keyword.OPT_IN, words[0][:40]
        return None
