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
from smsgate.connectors.smpp.pdu import (
    _TLV_HEAD,
    PduError,
    SubmitSm,
    Tag,
    _cstr_bytes,
    _tlv_bytes,
    tlv_uint,
)
from smsgate.messaging.segments import is_gsm7, split_parts

__all__ = ["DataCoding", "EncodeError", "LongMessages", "SubmitBuilder", "source_address"]

DC_GSM7 = 0x00
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40
TON_INTERNATIONAL, TON_NETWORK, TON_ALPHANUMERIC = 1, 3, 5
NPI_UNKNOWN, NPI_E164 = 0, 1
_MAX_PAYLOAD = 0xFFFF
_DEST_TON_NPI = bytes((TON_INTERNATIONAL, NPI_E164))


class DataCoding(StrEnum):
    GSM7 = "gsm7"
    LATIN1 = "latin1"
    UCS2 = "ucs2"


class LongMessages(StrEnum):
    UDH = "udh"
    SAR = "sar"
    PAYLOAD = "payload"


# Plain names for the hot path (an enum member's attribute lookup is slow on Python 3.11).
_GSM7, _LATIN1, _UCS2 = DataCoding.GSM7, DataCoding.LATIN1, DataCoding.UCS2
_UDH, _PAYLOAD = LongMessages.UDH, LongMessages.PAYLOAD
_MESSAGE_PAYLOAD = int(Tag.MESSAGE_PAYLOAD)


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
    # The common case first, without splitting: a text that fits one part. The same answer
    # as below (tests/connectors/test_smpp_submit.py checks it).
    if coding is not _UCS2:
        if is_gsm7(text):
            septets = gsm.septets(text)
            if len(septets) <= 160:
                if coding is _LATIN1:
                    try:
                        return DC_LATIN1, [text.encode("latin-1")]
                    except UnicodeEncodeError:
                        pass
                return DC_GSM7, [septets]
        elif len(text) <= 70:
            raw = text.encode("utf-16-be")  # a lone surrogate raises, as below
            if len(raw) <= 140:
                return DC_UCS2, [raw]
    return _split_parts(text, coding)


def _split_parts(text: str, coding: DataCoding) -> tuple[int, list[bytes]]:
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


def _addresses(head: bytes | PduError, destination: str) -> bytes:
    """The sender's octets (``SubmitBuilder._sender``) and destination_addr, or the
    PduError ``body()`` raises for either."""
    if isinstance(head, PduError):
        raise PduError(str(head))
    try:
        dest = destination.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise PduError("destination_addr must be Latin-1 text") from exc
    if b"\x00" in dest:
        raise PduError("destination_addr must be at most 20 characters without NUL")
    return b"%s%s\x00" % (head, dest)


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
        self._senders: dict[str, tuple[int, bytes | PduError]] = {}
        self._middles: dict[int, bytes] = {}

    def _sender(self, sender: str) -> tuple[int, bytes | PduError]:
        """The length of a sender's source_addr, and the octets from service_type to
        dest_addr_npi (or why ``body()`` would refuse them): the same for every message of
        a sender, so made once."""
        found = self._senders.get(sender)
        if found is None:
            ton, npi, source = source_address(sender)
            try:
                head: bytes | PduError = (
                    b"\x00"  # service_type
                    + bytes((ton, npi))
                    + _cstr_bytes(source, 21, "source_addr")
                    + _DEST_TON_NPI
                )
            except PduError as exc:
                head = exc
            if len(self._senders) >= 1024:
                self._senders.clear()
            self._senders[sender] = found = (len(source), head)
        return found

    def _middle(self, esm_class: int, data_coding: int) -> bytes:
        """From esm_class to sm_default_msg_id: the same for most messages of a connector."""
        key = esm_class << 8 | data_coding
        middle = self._middles.get(key)
        if middle is None:
            middle = (
                bytes((esm_class, 0, 0, 0))  # esm_class, protocol_id, priority, no schedule
                + _cstr_bytes(self.validity, 17, "validity_period")
                + bytes((self.registered_delivery, 0, data_coding, 0))
            )
            self._middles[key] = middle
        return middle

    def bodies(self, msg: OutboundMessage) -> list[bytes]:
        """The bodies of ``build(msg)``'s PDUs (``pdu.body()`` of each), octet for octet, made
        from parts that repeat across a batch (sender, fixed fields) encoded once.

        Raises what ``build`` raises (ValueError, EncodeError), then what ``body()`` would
        (PduError: a sender or number that is not Latin-1 or holds a NUL)."""
        dc, parts = _encode_parts(msg.text, self.data_coding)
        source_length, head = self._sender(msg.sender)
        destination = msg.msisdn.strip().removeprefix("+")
        if source_length > 20 or len(destination) > 20:
            raise EncodeError("address longer than 20 characters")
        total = len(parts)
        if total == 1:
            sm = parts[0]
            head = _addresses(head, destination)
            return [b"%s%s%c%s" % (head, self._middle(0, dc), len(sm), sm)]
        if self.long_messages is _PAYLOAD:
            payload = b"".join(parts)
            if len(payload) > _MAX_PAYLOAD:
                raise EncodeError("text longer than message_payload can carry")
            head = _addresses(head, destination)
            tlv = _TLV_HEAD.pack(_MESSAGE_PAYLOAD, len(payload))
            return [b"%s%s\x00%s%s" % (head, self._middle(0, dc), tlv, payload)]
        if total > 255:
            raise EncodeError(f"{total} parts; concatenation allows 255")
        ref = self._next_ref()  # taken before body() refuses, as build() takes it
        head = _addresses(head, destination)
        out = []
        if self.long_messages is _UDH:
            head += self._middle(ESM_UDHI, dc)
            for seq, part in enumerate(parts, 1):
                sm = bytes((5, 0x00, 3, ref & 0xFF, total, seq)) + part
                if len(sm) > 254:
                    raise PduError("short_message is at most 254 octets; use message_payload")
                out.append(b"%s%c%s" % (head, len(sm), sm))
        else:
            head += self._middle(0, dc)
            for seq, part in enumerate(parts, 1):
                tlvs: dict[int, bytes] = {
                    Tag.SAR_MSG_REF_NUM: tlv_uint(ref, 2),
                    Tag.SAR_TOTAL_SEGMENTS: tlv_uint(total, 1),
                    Tag.SAR_SEGMENT_SEQNUM: tlv_uint(seq, 1),
                }
                out.append(b"%s%c%s%s" % (head, len(part), part, _tlv_bytes(tlvs)))
        return out

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
