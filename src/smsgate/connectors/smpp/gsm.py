"""GSM 03.38 default alphabet, one byte per septet (unpacked), as SMPP ``data_coding`` 0 carries it.

A character of the extension table (``\\f^{}\\\\[~]|€``) takes two septets: ESC (0x1B), then its
code. Packing septets into octets is the SMSC's business, not the ESME's.
"""

from __future__ import annotations

from smsgate.messaging.segments import is_gsm7

__all__ = ["decode", "encode", "septets"]

# Index = septet value; 0x1B (ESC) has no character of its own.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_ESC = 0x1B
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
assert len(_BASIC) == 128

# str.translate then latin-1: each septet becomes the code point of the same value.
_TO_SEPTETS: dict[int, str] = {ord(c): chr(i) for i, c in enumerate(_BASIC) if i != _ESC}
_TO_SEPTETS.update({ord(c): chr(_ESC) + chr(code) for code, c in _EXTENSION.items()})


def encode(text: str) -> bytes:
    """``text`` as septets, one per byte; ValueError if a character is not in GSM 03.38."""
    if not is_gsm7(text):
        bad = next(c for c in text if not is_gsm7(c))
        raise ValueError(f"{bad!r} is not in the GSM 03.38 default alphabet")
    return text.translate(_TO_SEPTETS).encode("latin-1")


def septets(text: str) -> bytes:
    """``encode`` for a text already known to be GSM (``is_gsm7``): no check again."""
    return text.translate(_TO_SEPTETS).encode("latin-1")


def decode(data: bytes) -> str:
    """The inverse of ``encode``. As 03.38 asks, an escape the extension table lacks shows
    the basic character, and ESC ESC a space; a byte above 0x7F (no septet) becomes U+FFFD."""
    out: list[str] = []
    escaped = False
    for b in data:
        if b > 0x7F:
            out.append("\ufffd")
            escaped = False
        elif escaped:
            out.append(_EXTENSION.get(b) or (" " if b == _ESC else _BASIC[b]))
            escaped = False
        elif b == _ESC:
            escaped = True
        else:
            out.append(_BASIC[b])
    return "".join(out)
