from __future__ import annotations

import pytest

from smsgate.config import Settings
from smsgate.connectors.smpp.mo import decode_text
from smsgate.connectors.smpp.pdu import DeliverSm
from smsgate.inbound.keywords import Keyword, Keywords

K = Keywords.from_settings(Settings())


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "STOP please",
        "Unsubscribe",
        "СТОП",
        "стоп!",
        "Отписаться",
        "TO'XTAT",
        "toʻxtat",
        "To’xtat",
        "toxtat",
        "Stopp",
        "ARRÊT",
        "arrêt",
        "Arret",
        "quit",
    ],
)
def test_opt_out_words(text: str) -> None:
    hit = K.classify(text)
    assert hit is not None and hit[0] is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "start now", "Subscribe", "СТАРТ", "Boshlash", "unstop"])
def test_opt_in_words(text: str) -> None:
    hit = K.classify(text)
    assert hit is not None and hit[0] is Keyword.OPT_IN


@pytest.mark.parametrize("text", ["", "   ", "please stop", "stopping", "hello", "STARTER"])
def test_ordinary_messages(text: str) -> None:
    assert K.classify(text) is None


def test_configured_words_replace_the_defaults() -> None:
    k = Keywords.from_settings(Settings(opt_out_keywords="HALT, nein", opt_in_keywords="JA"))
    assert k.classify("halt") == (Keyword.OPT_OUT, "halt")
    assert k.classify("NEIN") is not None and k.classify("STOP") is None
    assert k.classify("ja") == (Keyword.OPT_IN, "ja")


def test_decode_mo_by_data_coding() -> None:
    assert decode_text(DeliverSm(1, short_message=b"Stop \x00 \x1b\x65")) == "Stop @ €"
    assert (
        decode_text(DeliverSm(1, data_coding=8, short_message="СТОП".encode("utf-16-be"))) == "СТОП"
    )
    assert (
        decode_text(DeliverSm(1, data_coding=3, short_message="Arrêt".encode("latin-1"))) == "Arrêt"
    )
    udh = b"\x05\x00\x03\x2a\x02\x01"
    assert decode_text(DeliverSm(1, esm_class=0x40, short_message=udh + b"part one")) == "part one"
