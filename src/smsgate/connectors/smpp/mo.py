"""Inbound (MO) deliver_sm: the text a handset sent, decoded by its ``data_coding``.

    0   GSM 03.38 default alphabet, one septet per octet (gsm.py)
    1   IA5 (ASCII)
    3   Latin-1
    8   UCS-2 (read as UTF-16BE, so surrogate pairs survive)
    other  Latin-1, so no octet is lost

A part of a concatenated message (UDH indicator in ``esm_class``) loses its user data
header and is delivered as its own message: parts are not joined.
"""

from __future__ import annotations

from smsgate.connectors.base import InboundMessage
from smsgate.connectors.smpp import gsm
from smsgate.connectors.smpp.pdu import DeliverSm
from smsgate.kit.time import utcnow

__all__ = ["decode_text", "inbound_message"]

_UDHI = 0x40


def decode_text(pdu: DeliverSm) -> str:
    raw = pdu.text_bytes()
    if pdu.esm_class & _UDHI and raw:
        raw = raw[1 + raw[0] :]
    coding = pdu.data_coding
    if coding == 0:
        return gsm.decode(raw)
    if coding == 8:
        return raw.decode("utf-16-be", "replace")
    if coding == 1:
        return raw.decode("ascii", "replace")
    return raw.decode("latin-1")


def inbound_message(connector: str, pdu: DeliverSm) -> InboundMessage:
    return InboundMessage(
        connector=connector,
        source=pdu.source_addr,
        destination=pdu.destination_addr,
        text=decode_text(pdu),
        received_at=utcnow(),
    )
