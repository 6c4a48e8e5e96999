"""sms.by balance, alpha names, single SMS and message templates over real HTTP."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.db import Database
from smsgate.messaging import queries
from smsgate.senders.service import list_senders, request_sender
from tests.support.factories import make_customer
from tests.support.waiting import wait_for
from tests.surfaces.test_smsby_support import STYLES, call, error, ok

TOO_LONG = (
    "Message is too long. Allowed size: 1530 chars for 10 sms (160 latin symbols /sms). "
    "670 chars for 10 ciryllic sms, and 70/sms for cyrillic symbols."
)
WRONG_ALPHANAME = "Wrong alphaname. Check it is correct and approved."
PHP_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _delivered(client: httpx.Client, token: str, sms_id: int) -> dict[str, object]:
    def probe() -> dict[str, object] | None:
        body: dict[str, object] = ok(call(client, "checkSMS", token=token, sms_id=sms_id))
        return body if body["status"] == "DELIVERED" else None

    return wait_for(probe)


def test_balance_limit_and_alphanames(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    with db.write() as session:
        shop = request_sender(session, c.account_id, "SHOP", approved=True)
        request_sender(session, c.account_id, "PENDING")
        acme = next(s for s in list_senders(session, c.account_id) if s.name == "ACME")
    balance = call(client, "getBalance", token=c.token)
    assert balance.content == (
        b'{"status":"OK","currency":"EUR","result":[{"balance":"10.00000",'
        b'"viber_balance":"0.00000"}]}'
    )
    # 10 EUR at the plan's dearest rate (Russia, 0.07 a part)
    assert ok(call(client, "getLimit", "post_query", token=c.token)) == {"limit": 142}
    assert ok(call(client, "getAlphaNames", token=c.token)) == {
        "0": "System name (ACME)",
        str(acme.id): "ACME",
        str(shop.id): "SHOP",
    }
    assert ok(call(client, "getAlphanameId", token=c.token, name="SHOP")) == {"id": shop.id}
    error(call(client, "getAlphaNameId", token=c.token, name="PENDING"), 404)
    error(call(client, "getAlphanameId", token=c.token), 400)


def test_send_quick_sms_in_every_client_style_charges_and_delivers(
    db: Database, client: httpx.Client
) -> None:
    c = make_customer(db)
    names = ["sendQuickSMS", "sendQuickSms", "sendquicksms", "SENDQUICKSMS", "SendQuickSMS"]
    sent = []
    for i, (style, name) in enumerate(zip(STYLES, names, strict=True)):
        body = ok(
            call(client, name, style, token=c.token, message=f"Hi {i}", phone=f"37529123456{i}")
        )
        assert list(body) == ["sms_id", "status", "parts"]
        assert body["status"] == "NEW" and body["parts"] == 1
        sent.append(body["sms_id"])
    # send-sms-nodejs sends the phone as a JSON number; Bearer works as well as `token`
    body = ok(
        client.post(
            "/api/v1/sendQuickSMS",
            json={"message": "Hi", "phone": 375291234560},
            headers={"Authorization": f"Bearer {c.token}"},
        )
    )
    sent.append(body["sms_id"])
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("10") - 6 * Decimal("0.06")
        assert ledger.entries_total(session, c.account_id) == ledger.balance(session, c.account_id)
        assert queries.get_message(session, c.account_id, sent[0]).sender == "ACME"
    for sms_id in sent:
        final = _delivered(client, c.token, sms_id)
        assert list(final) == ["sms_id", "sent", "delivered", "status"]
        assert final["sms_id"] == sms_id
        assert isinstance(final["sent"], int) and isinstance(final["delivered"], int)
        assert 0 < final["sent"] <= final["delivered"]


def test_quick_sms_errors(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    poor = make_customer(db, name="Poor", balance=Decimal("0.01"))
    with db.write() as session:
        pending = request_sender(session, c.account_id, "LATER")
    p = {"token": c.token, "phone": "375291234567"}
    assert error(call(client, "sendQuickSMS", message="x" * 1531, **p), 400) == TOO_LONG
    assert error(call(client, "sendQuickSMS", message="hi", alphaname_id=999, **p), 400) == (
        WRONG_ALPHANAME
    )
    assert error(call(client, "sendQuickSMS", message="hi", alphaname_id=pending.id, **p), 400) == (
        WRONG_ALPHANAME
    )
    assert "phone" in error(call(client, "sendQuickSMS", token=c.token, message="hi"), 400)
    assert "message" in error(call(client, "sendQuickSMS", "post_json", **p), 400)
    error(call(client, "sendQuickSMS", token=c.token, message="hi", phone="12"), 400)
    assert "balance" in error(
        call(client, "sendQuickSMS", token=poor.token, message="hi", phone="375291234567"), 400
    )
    # startsend-1c-bitrix's typo `alfaname_id`, and other unknown parameters, are ignored
    ok(call(client, "sendQuickSMS", message="hi", alfaname_id=77, foo="bar", **p))
    with db.read() as session:
        assert ledger.balance(session, poor.account_id) == Decimal("0.01")
        assert ledger.balance(session, c.account_id) == Decimal("10") - Decimal("0.06")


def test_check_sms_is_scoped_to_the_account(db: Database, client: httpx.Client) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    sms_id = ok(
        call(client, "sendQuickSMS", token=alice.token, message="hi", phone="375291234567")
    )["sms_id"]
    ok(call(client, "checkSMS", token=alice.token, sms_id=sms_id))
    error(call(client, "checkSMS", token=bob.token, sms_id=sms_id), 404)
    error(call(client, "checkSMS", token=alice.token, sms_id=999999), 404)
    error(call(client, "checkSMS", token=alice.token, sms_id="abc"), 400)
    error(call(client, "checkSMS", token=alice.token), 400)


def test_message_templates_create_send_and_list(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    with db.write() as session:
        shop = request_sender(session, c.account_id, "SHOP", approved=True)
    created = call(client, "createSMSMessage", "post_query", token=c.token, message="Order ready")
    body = ok(created)
    assert list(body) == ["status", "parts", "len", "message_id", "alphaname", "time"]
    assert body["status"] == "ok" and body["parts"] == 1 and body["len"] == 11
    assert body["alphaname"] == "system" and body["time"] == 0
    template_id = body["message_id"]
    again = ok(call(client, "createSmsMessage", token=c.token, message="Order ready"))
    assert again["message_id"] == template_id  # the same text is the same message

    status = ok(call(client, "checkSMSMessageStatus", token=c.token, message_id=template_id))
    assert status["message_id"] == template_id and status["status"] == "moderated"
    assert status["alphaname"] == "SYSTEM" and status["parts"] == 1
    assert PHP_TIME.match(str(status["d_create"]))

    shop_template = ok(
        call(client, "createSmsMessage", token=c.token, message="Order ready", alphaname_id=shop.id)
    )
    assert shop_template["alphaname"] == "SHOP" and shop_template["message_id"] != template_id

    first = ok(call(client, "sendSms", token=c.token, message_id=template_id, phone="375291234567"))
    second = ok(
        call(
            client,
            "sendSMS",
            "post_json",
            token=c.token,
            message_id=template_id,
            phone=375291234568,
        )
    )
    via_shop = ok(
        call(
            client,
            "sendsms",
            token=c.token,
            message_id=shop_template["message_id"],
            phone="375291234569",
        )
    )
    assert first["status"] == "NEW" and list(first) == ["sms_id", "status", "parts"]
    with db.read() as session:
        assert queries.get_message(session, c.account_id, first["sms_id"]).text == "Order ready"
        assert queries.get_message(session, c.account_id, first["sms_id"]).sender == "ACME"
        assert queries.get_message(session, c.account_id, via_shop["sms_id"]).sender == "SHOP"

    listed = ok(call(client, "getMessagesList", token=c.token, limit_offset=0, limit_rows=10))
    assert [m["message_id"] for m in listed["result"]] == [shop_template["message_id"], template_id]
    assert list(listed["result"][0]) == ["message_id", "message", "parts", "d_create", "status"]
    assert listed["result"][1]["status"] == "moderated"
    paged = ok(call(client, "getMessagesList", token=c.token, limit_offset=1, limit_rows=1))
    assert [m["message_id"] for m in paged["result"]] == [template_id]

    _delivered(client, c.token, first["sms_id"])
    _delivered(client, c.token, second["sms_id"])
    deliveries = ok(call(client, "getSmsDeliveryList", token=c.token, message_id=template_id))
    assert deliveries["result"] == [
        {
            "sms_id": second["sms_id"],
            "phone": 375291234568,
            "status": "DELIVERED",
            "d_sent": deliveries["result"][0]["d_sent"],
        },
        {
            "sms_id": first["sms_id"],
            "phone": 375291234567,
            "status": "DELIVERED",
            "d_sent": deliveries["result"][1]["d_sent"],
        },
    ]
    assert all(PHP_TIME.match(d["d_sent"]) for d in deliveries["result"])
    one = ok(
        call(client, "getSmsDeliveryList", token=c.token, message_id=template_id, limit_rows=1)
    )
    assert len(one["result"]) == 1


def test_message_template_errors_and_isolation(db: Database, client: httpx.Client) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    template_id = ok(call(client, "createSmsMessage", token=alice.token, message="Hello"))[
        "message_id"
    ]
    assert error(call(client, "createSmsMessage", token=alice.token, message="я" * 671), 400) == (
        TOO_LONG
    )
    assert error(
        call(client, "createSmsMessage", token=alice.token, message="Hi", alphaname_id=12345), 400
    ) == (WRONG_ALPHANAME)
    assert "time" in error(
        call(client, "createSmsMessage", token=alice.token, message="Hi", time="1700000000"), 400
    )
    error(call(client, "createSmsMessage", token=alice.token), 400)
    for name, extra in (
        ("checkSMSMessageStatus", {}),
        ("sendSms", {"phone": "375291234567"}),
        ("getSmsDeliveryList", {}),
    ):
        assert error(call(client, name, token=bob.token, message_id=template_id, **extra), 404) == (
            "not found"
        )
        assert error(call(client, name, token=alice.token, message_id=999999, **extra), 404) == (
            "not found"
        )
    assert ok(call(client, "getMessagesList", token=bob.token)) == {"result": []}
    error(call(client, "getMessagesList", token=alice.token, limit_rows=0), 400)
    error(call(client, "getMessagesList", token=alice.token, limit_rows=5000), 400)
    error(call(client, "getMessagesList", token=alice.token, limit_offset=-1), 400)
    with db.read() as session:
        assert ledger.balance(session, bob.account_id) == Decimal("10")
