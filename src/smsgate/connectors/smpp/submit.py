"""From an ``OutboundMessage`` to its submit_sm PDUs, one per part, in order.

Encoding (``data_coding`` per connector; text that GSM-7 cannot carry is always UCS-2):

    gsm7    GSM 03.38 septets, one per octet (data_coding 0)
    latin1  ISO-8859-1 (data_coding 3); a GSM text with a character Latin-1 lacks (Greek
            capitals, €) goes as gsm7, so the part count stays the one the customer paid for
    ucs2    UTF-16BE (data_coding 8) for every message, 70 characters in one part, 67 a part
            when split: more parts than a GSM-7 text was priced at

GSM texts split as ``messaging.segments.split_parts`` does (153 septets a part, an escaped
character never cut), so parts match the price. Long messages (``long_messages``):

    udh      each part starts with a 6-octet UDH (IEI 0x00, 8-bit reference), esm_class 0x40
    sar      each part carries sar_msg_ref_num (16-bit), sar_total_segments, sar_segment_seqnum
    payload  one submit_sm with the whole text in message_payload: one upstream id, one receipt

Addresses: an alphanumeric sender is TON 5 NPI 0; up to 8 digits (a short code) TON 3 NPI 0;
any other number, with or without "+", TON 1 NPI 1. The destination is TON 1 NPI 1.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from smsgate.connectors.base import OutboundMessage
from smsgate.connectors.smpp import gsm
from smsgate.connectors.smpp.pdu import SubmitSm, Tag, tlv_uint
from smsgate.messaging.segments import is_gsm7, split_parts

__all__ = ["DataCoding", "EncodeError", "LongMessages", "SubmitBuilder", "source_address"]

DC_GSM7 = 0x00
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40
TON_INTERNATIONAL, TON_NETWORK, TON_ALPHANUMERIC = 1, 3, 5
NPI_UNKNOWN, NPI_E164 = 0, 1
_MAX_PAYLOAD = 0xFFFF


class DataCoding(StrEnum):
    GSM7 = "gsm7"
    LATIN1 = "latin1"
    UCS2 = "ucs2"


class LongMessages(StrEnum):
    UDH = "udh"
    SAR = "sar"
    PAYLOAD = "payload"


class EncodeError(ValueError):
    """A message this connector cannot put into submit_sm (the message is rejected)."""


def source_address(sender: str) -> tuple[int, int, str]:
    """TON, NPI and address of a sender."""
    sender = sender.strip()
    if not sender:
        return 0, 0, ""
    digits = sender.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        if len(digits) <= 8 and not sender.startswith("+"):
            return TON_NETWORK, NPI_UNKNOWN, digits
        return TON_INTERNATIONAL, NPI_E164, digits
    return TON_ALPHANUMERIC, NPI_UNKNOWN, sender


def relative_validity(seconds: int) -> str:
    """An SMPP relative time ``YYMMDDhhmmss000R`` (days capped at 99)."""
    days, rest = divmod(max(0, seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def _encode_parts(text: str, coding: DataCoding) -> tuple[int, list[bytes]]:
    """data_coding and the encoded parts (one part for a short text)."""
    if is_gsm7(text):
        if coding is DataCoding.UCS2:
            units = 70 if len(text) <= 70 else 67  # GSM characters are all in the BMP
            chunks = [text[i : i + units] for i in range(0, len(text), units)] or [""]
            return DC_UCS2, [c.encode("utf-16-be") for c in chunks]
        pieces = split_parts(text) or [""]
        if coding is DataCoding.LATIN1:
            try:
                return DC_LATIN1, [p.encode("latin-1") for p in pieces]
            except UnicodeEncodeError:
                pass
        return DC_GSM7, [gsm.encode(p) for p in pieces]
    return DC_UCS2, [p.encode("utf-16-be") for p in split_parts(text)]


class SubmitBuilder:
    """Builds the submit_sm PDUs of a message; holds the connector's concatenation reference."""

    def __init__(
        self,
        *,
        data_coding: DataCoding = DataCoding.GSM7,
        long_messages: LongMessages = LongMessages.UDH,
        registered_delivery: bool = True,
        validity_seconds: int | None = None,
    ) -> None:
        self.data_coding = data_coding
        self.long_messages = long_messages
        self.registered_delivery = 1 if registered_delivery else 0
        self.validity = relative_validity(validity_seconds) if validity_seconds else ""
        self._ref = 0

    def _next_ref(self) -> int:
        self._ref = (self._ref + 1) & 0xFFFF
        return self._ref

    def build(self, msg: OutboundMessage) -> list[SubmitSm]:
        dc, parts = _encode_parts(msg.text, self.data_coding)
        ton, npi, source = source_address(msg.sender)
        template = SubmitSm(
            source_addr_ton=ton,
            source_addr_npi=npi,
            source_addr=source,
            dest_addr_ton=TON_INTERNATIONAL,
            dest_addr_npi=NPI_E164,
            destination_addr=msg.msisdn.strip().removeprefix("+"),
            validity_period=self.validity,
            registered_delivery=self.registered_delivery,
            data_coding=dc,
        )
        if len(template.source_addr) > 20 or len(template.destination_addr) > 20:
            raise EncodeError("address longer than 20 characters")
        if len(parts) == 1:
            template.short_message = parts[0]
            return [template]
        if self.long_messages is LongMessages.PAYLOAD:
            payload = b"".join(parts)
            if len(payload) > _MAX_PAYLOAD:
                raise EncodeError("text longer than message_payload can carry")
            template.tlvs = {Tag.MESSAGE_PAYLOAD: payload}
            return [template]
        total = len(parts)
        if total > 255:
            raise EncodeError(f"{total} parts; concatenation allows 255")
        ref = self._next_ref()
        pdus = []
        for seq, part in enumerate(parts, 1):
            pdu = replace(template)
            if self.long_messages is LongMessages.UDH:
                pdu.esm_class = ESM_UDHI
                pdu.short_message = bytes((5, 0x00, 3, ref & 0xFF, total, seq)) + part
            else:
                pdu.short_message = part
                pdu.tlvs = {
                    Tag.SAR_MSG_REF_NUM: tlv_uint(ref, 2),
                    Tag.SAR_TOTAL_SEGMENTS: tlv_uint(total, 1),
                    Tag.SAR_SEGMENT_SEQNUM: tlv_uint(seq, 1),
                }
            pdus.append(pdu)
        return pdus
