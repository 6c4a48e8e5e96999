"""sms.by invoices (seed 000) over real HTTP: getBills, createBill, downloadBill."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from smsgate.billing.invoices import create_invoice, get_invoice, pay_invoice
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.surfaces.test_smsby_support import call, error, ok

BILL_KEYS = [
    "id",
    "user_id",
    "d_create",
    "d_payment",
    "amount",
    "manager_id",
    "comment",
    "info",
    "type",
    "rent",
    "number",
]
CREATED_KEYS = [
    "user_id",
    "amount",
    "d_create",
    "d_payment",
    "manager_id",
    "info",
    "type",
    "rent",
    "comment",
    "id",
    "number",
]


def _escaped(text: str) -> str:
    return text.replace("/", "\\/")


def test_get_bills_is_the_laravel_paginator_of_the_seed(
    db: Database, settings: Settings, server: str, client: httpx.Client
) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    base = datetime(2021, 3, 23, 14, 36, 32, tzinfo=UTC)
    with db.write() as session:
        ids = [
            create_invoice(
                session,
                alice.account_id,
                Decimal(100 + i),
                settings=settings,
                now=base + timedelta(minutes=i),
            ).id
            for i in range(16)
        ]
        create_invoice(session, bob.account_id, Decimal(5), settings=settings, now=base)
        first = get_invoice(session, alice.account_id, ids[0])
        pay_invoice(session, first, actor="test", now=base + timedelta(days=1))
        comment, number = first.comment, first.number
    url = _escaped(f"{server}/api/v1/getBills")

    page1 = call(client, "getBills", token=alice.token)
    assert page1.status_code == 200 and page1.headers["content-type"] == "application/json"
    assert page1.content.startswith(
        b'{"status":"success","data":{"total":16,"per_page":15,"current_page":1,'
        b'"last_page":2,"next_page_url":"' + url.encode() + b'?page=2","prev_page_url":null,'
        b'"from":1,"to":15,"data":[{"id":' + str(ids[-1]).encode() + b',"user_id":'
    )
    rows = page1.json()["data"]["data"]
    assert [r["id"] for r in rows] == ids[:0:-1]  # newest first
    assert all(list(r) == BILL_KEYS for r in rows)
    assert rows[0]["amount"] == "115.00" and rows[0]["d_payment"] == 0
    assert rows[0]["d_create"] == str(int((base + timedelta(minutes=15)).timestamp()))

    # Byte for byte: the paid, oldest bill alone on page 2 (the seed's sample types).
    page2 = call(client, "getBills", "post_query", token=alice.token, page=2)
    expected = (
        '{"status":"success","data":{"total":16,"per_page":15,"current_page":2,"last_page":2,'
        f'"next_page_url":null,"prev_page_url":"{url}?page=1","from":16,"to":16,"data":[{{'
        f'"id":{ids[0]},"user_id":{alice.account_id},"d_create":"{int(base.timestamp())}",'
        f'"d_payment":{int((base + timedelta(days=1)).timestamp())},"amount":"100.00",'
        f'"manager_id":0,"comment":"{_escaped(comment)}","info":"0","type":"SMS","rent":"0",'
        f'"number":"{_escaped(number)}"}}]}}}}'
    )
    assert page2.content.decode() == expected
    assert number == f"C{10000 + ids[0]}/20210323"

    page3 = call(client, "GETBILLS", "post_form", token=alice.token, page=3)
    assert page3.content.decode() == (
        '{"status":"success","data":{"total":16,"per_page":15,"current_page":3,"last_page":2,'
        f'"next_page_url":null,"prev_page_url":"{_escaped(f"{server}/api/v1/GETBILLS")}?page=2",'
        '"from":null,"to":null,"data":[]}}'
    )
    for junk in ("abc", "0", "-2", "1.5"):  # Laravel falls back to page 1
        assert (
            ok(call(client, "getBills", token=alice.token, page=junk))["data"]["current_page"] == 1
        )

    bobs = ok(call(client, "getBills", "post_json", token=bob.token))["data"]
    assert bobs["total"] == 1 and bobs["last_page"] == 1 and bobs["next_page_url"] is None
    assert bobs["data"][0]["user_id"] == bob.account_id


def test_create_bill_answers_as_the_seed(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    before = int(time.time())
    created = call(client, "createBill", "post_form", token=c.token, amount=500, amount_type="sms")
    body = ok(created)
    assert list(body) == ["status", "data"] and body["status"] == "success"
    data = body["data"]
    assert list(data) == CREATED_KEYS
    assert data["user_id"] == c.account_id and data["amount"] == "500"
    assert isinstance(data["d_create"], str) and before <= int(data["d_create"]) <= time.time()
    assert (data["d_payment"], data["manager_id"], data["info"], data["rent"]) == (0, 0, 0, 0)
    assert data["type"] == "sms" and "500" in data["comment"]
    assert data["number"].startswith(f"C{10000 + data['id']}/")
    assert b'"number":"C' + str(10000 + data["id"]).encode() + b"\\/" in created.content

    viber = ok(
        call(
            client,
            "createbill",
            "post_json",
            token=c.token,
            amount=120,
            amount_type="viber",
            type="subscription",
        )
    )["data"]
    assert viber["type"] == "viber" and viber["rent"] == 1 and viber["amount"] == "120"
    multipart = ok(
        call(
            client,
            "createBill",
            "post_multipart",
            token=c.token,
            amount=7,
            amount_type="viber",
            type="replenishment",
        )
    )["data"]
    assert multipart["rent"] == 0

    rows = ok(call(client, "getBills", token=c.token))["data"]["data"]
    assert [(r["id"], r["type"], r["rent"], r["amount"]) for r in rows] == [
        (multipart["id"], "VIBER", "0", "7.00"),
        (viber["id"], "VIBER", "1", "120.00"),
        (data["id"], "SMS", "0", "500.00"),
    ]


def test_create_bill_refuses_bad_data_with_421(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    bad = [
        {"amount_type": "viber", "amount": 100},  # viber needs a type
        {"amount_type": "sms"},
        {"amount": 100},
        {"amount": "12.5", "amount_type": "sms"},
        {"amount": 0, "amount_type": "sms"},
        {"amount": "ten", "amount_type": "sms"},
        {"amount": 100, "amount_type": "mms"},
        {"amount": 100, "amount_type": "viber", "type": "gift"},
        {"amount": 10**12, "amount_type": "sms"},
    ]
    messages = [
        error(call(client, "createBill", "post_form", token=c.token, **p), 421) for p in bad
    ]
    assert "type" in messages[0] and "viber" in messages[0]
    assert ok(call(client, "getBills", token=c.token))["data"]["total"] == 0
    error(call(client, "createBill", "post_form", amount=1, amount_type="sms"), 403)


def test_download_bill_is_a_pdf_of_the_own_account(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    bill = ok(call(client, "createBill", token=alice.token, amount=50, amount_type="sms"))["data"]
    pdf = call(client, "downloadBill", token=alice.token, bill_id=bill["id"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    assert call(
        client, "downloadbill", "post_query", token=alice.token, bill_id=bill["id"]
    ).content[:4] == (b"%PDF")

    error(call(client, "downloadBill", token=bob.token, bill_id=bill["id"]), 404)
    error(call(client, "downloadBill", token=alice.token, bill_id=999999), 404)
    error(call(client, "downloadBill", token=alice.token, bill_id="abc"), 400)
    error(call(client, "downloadBill", token=alice.token), 400)
