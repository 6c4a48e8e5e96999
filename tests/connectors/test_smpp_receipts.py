from __future__ import annotations

import pytest

from smsgate.connectors.smpp.pdu import DeliverSm, Tag
from smsgate.connectors.smpp.receipts import is_receipt, parse_receipt
from smsgate.messaging.status import MessageStatus


def receipt(text: str = "", tlvs: dict[int, bytes] | None = None, **fields: int) -> DeliverSm:
    options = {"esm_class": 0x04} | fields
    return DeliverSm(1, short_message=text.encode("latin-1"), tlvs=tlvs or {}, **options)


TEXT = (
    "id:{id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201"
    " stat:{stat} err:{err} text:{t}"
)


@pytest.mark.parametrize(
    ("stat", "err", "status", "code"),
    [
        ("DELIVRD", "000", MessageStatus.DELIVERED, None),
        ("UNDELIV", "034", MessageStatus.UNDELIVERABLE, "smpp_undeliv:034"),
        ("EXPIRED", "000", MessageStatus.UNDELIVERABLE, "smpp_expired"),
        ("DELETED", "0", MessageStatus.UNDELIVERABLE, "smpp_deleted"),
        ("REJECTD", "00B", MessageStatus.REJECTED, "smpp_rejectd:00B"),
        ("ACCEPTD", "000", None, None),
        ("ENROUTE", "000", None, None),
        ("UNKNOWN", "000", None, None),
        ("delivrd", "000", MessageStatus.DELIVERED, None),
    ],
)
def test_text_form(stat: str, err: str, status: MessageStatus | None, code: str | None) -> None:
    parsed = parse_receipt(receipt(TEXT.format(id="0A1b", stat=stat, err=err, t="stat:DELIVRD")))
    assert parsed is not None
    assert (parsed.message_id, parsed.status, parsed.error_code) == ("0A1b", status, code)


def test_text_form_is_not_read_past_text() -> None:
    parsed = parse_receipt(receipt("sub:001 stat:DELIVRD Text:id:123"))
    assert parsed is None


def test_tlvs_win_over_the_text() -> None:
    tlvs = {
        Tag.RECEIPTED_MESSAGE_ID: b"abcdef0123\x00",
        Tag.MESSAGE_STATE: b"\x05",
        Tag.NETWORK_ERROR_CODE: b"\x03\x00\x0b",
    }
    text = TEXT.format(id="abcdef", stat="DELIVRD", err="000", t="")
    parsed = parse_receipt(receipt(text, tlvs))
    assert parsed is not None
    assert (parsed.message_id, parsed.state, parsed.status) == (
        "abcdef0123",
        "UNDELIV",
        MessageStatus.UNDELIVERABLE,
    )
    assert parsed.error_code == "smpp_undeliv:net3_11"


def test_tlv_only_and_payload_text() -> None:
    parsed = parse_receipt(
        receipt(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"77", Tag.MESSAGE_STATE: b"\x08"})
    )
    assert parsed is not None
    assert (parsed.message_id, parsed.status) == ("77", MessageStatus.REJECTED)
    payload = TEXT.format(id="9", stat="DELIVRD", err="000", t="").encode()
    parsed = parse_receipt(receipt(tlvs={Tag.MESSAGE_PAYLOAD: payload}))
    assert parsed is not None
    assert (parsed.message_id, parsed.status) == ("9", MessageStatus.DELIVERED)


def test_ucs2_receipt_text() -> None:
    text = TEXT.format(id="42", stat="DELIVRD", err="000", t="")
    pdu = DeliverSm(1, esm_class=0x04, data_coding=8, short_message=text.encode("utf-16-be"))
    parsed = parse_receipt(pdu)
    assert parsed is not None
    assert (parsed.message_id, parsed.status) == ("42", MessageStatus.DELIVERED)


def test_which_deliver_sm_are_receipts() -> None:
    assert is_receipt(receipt(esm_class=0x04))
    assert is_receipt(receipt(esm_class=0x20))  # intermediate notification
    assert not is_receipt(receipt(esm_class=0x00))  # MO
    assert not is_receipt(receipt(esm_class=0x40))  # MO with UDH
    assert is_receipt(receipt(esm_class=0x44))


def test_error_code_fits_the_column() -> None:
    parsed = parse_receipt(receipt(TEXT.format(id="1", stat="UNDELIV", err="9" * 60, t="")))
    assert parsed is not None
    assert parsed.error_code is not None
    assert len(parsed.error_code) == 40
