"""Delivery receipts inside deliver_sm: which PDUs are receipts, and what they say.

A receipt has the esm_class message type "SMSC delivery receipt" (or "intermediate delivery
notification", never final). Its id and state come from the TLVs ``receipted_message_id``
and ``message_state`` when present (they are not truncated, unlike the text), otherwise
from the text of SMPP 3.4 Appendix B:

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
    err:E text:...

    DELIVRD                          -> delivered
    UNDELIV, EXPIRED, DELETED        -> undeliverable
    REJECTD                          -> rejected
    ACCEPTD, ENROUTE, UNKNOWN, other -> not final, ignored

The error code of a failed part is ``smpp_<state>`` and, when the receipt gives one, ``:``
and the ``err:`` value or ``net<type>_<code>`` from ``network_error_code`` (40 characters at
most, the width of the column).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from smsgate.connectors.smpp.pdu import DeliverSm, Tag
from smsgate.messaging.status import MessageStatus

__all__ = ["ParsedReceipt", "is_receipt", "parse_receipt"]

_TYPE_MASK = 0x3C
_SMSC_RECEIPT = 0x04
_INTERMEDIATE = 0x20
_UCS2 = 0x08
# Plain names for what every receipt looks up (an enum member's lookup is slow on 3.11).
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_MESSAGE_STATE = int(Tag.MESSAGE_STATE)
_NETWORK_ERROR_CODE = int(Tag.NETWORK_ERROR_CODE)
_DELIVERED = MessageStatus.DELIVERED

# message_state values (SMPP 3.4, 5.2.28) as the states of the text form
_STATES = {
    0: "SCHEDULED",
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_FINAL = {
    "DELIVRD": MessageStatus.DELIVERED,
    "DELIVERED": MessageStatus.DELIVERED,
    "UNDELIV": MessageStatus.UNDELIVERABLE,
    "UNDELIVERABLE": MessageStatus.UNDELIVERABLE,
    "EXPIRED": MessageStatus.UNDELIVERABLE,
    "DELETED": MessageStatus.UNDELIVERABLE,
    "REJECTD": MessageStatus.REJECTED,
    "REJECTED": MessageStatus.REJECTED,
}
_ID = re.compile(r"\bid:\s*([^\s]+)", re.IGNORECASE)
_STAT = re.compile(r"\bstat:\s*(\w+)", re.IGNORECASE)
_ERR = re.compile(r"\berr:\s*(\w+)", re.IGNORECASE)
_TEXT = re.compile(r"\btext:", re.IGNORECASE)


class ParsedReceipt(NamedTuple):
    message_id: str  # as the SMSC wrote it; normalise before reporting
    state: str  # DELIVRD, UNDELIV, ... (upper case)
    status: MessageStatus | None  # None: not final
    error_code: str | None


def is_receipt(pdu: DeliverSm) -> bool:
    return (pdu.esm_class & _TYPE_MASK) in (_SMSC_RECEIPT, _INTERMEDIATE)


def _text(pdu: DeliverSm) -> str:
    raw = pdu.text_bytes()
    if pdu.data_coding == _UCS2:
        return raw.decode("utf-16-be", "replace")
    text = raw.decode("latin-1")
    match = _TEXT.search(text)  # the quoted message may contain anything; never read it
    return text[: match.start()] if match else text


def _meaningful(err: str | None) -> str | None:
    if err is None or err.strip("0") == "":
        return None
    return err


def parse_receipt(pdu: DeliverSm) -> ParsedReceipt | None:
    """What a receipt says, or None if it names no message.

    The text is decoded only when a TLV does not say it already (most SMSCs send
    ``receipted_message_id`` and ``message_state``, and a delivered part needs no ``err:``)."""
    tlvs = pdu.tlvs
    text: str | None = None
    message_id = None
    if tlvs:
        raw = tlvs.get(_RECEIPTED_MESSAGE_ID)
        if raw is not None:  # tlv_cstr, inlined
            nul = raw.find(0)
            message_id = (raw if nul < 0 else raw[:nul]).decode("latin-1")
    if not message_id:
        text = _text(pdu)
        found = _ID.search(text)
        if found is None:
            return None
        message_id = found.group(1)
    state_value = None
    if tlvs:
        raw = tlvs.get(_MESSAGE_STATE)
        if raw:  # tlv_int, inlined
            state_value = int.from_bytes(raw, "big")
    if state_value is not None:
        state = _STATES.get(state_value) or f"STATE{state_value}"
    else:
        if text is None:
            text = _text(pdu)
        found = _STAT.search(text)
        state = found.group(1).upper() if found else "UNKNOWN"
    status = _FINAL.get(state)
    error_code = None
    if status is not None and status is not _DELIVERED:
        if text is None:
            text = _text(pdu)
        found = _ERR.search(text)
        detail = _meaningful(found.group(1) if found else None)
        network = tlvs.get(_NETWORK_ERROR_CODE)
        if detail is None and network is not None and len(network) == 3:
            code = int.from_bytes(network[1:], "big")
            detail = f"net{network[0]}_{code}" if code else None
        error_code = (f"smpp_{state.lower()}" + (f":{detail}" if detail else ""))[:40]
    return ParsedReceipt(message_id, state, status, error_code)
