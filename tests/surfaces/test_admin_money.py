"""The admin API's money routes, sender names and invoices, over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.billing.invoices import create_invoice
from smsgate.billing.models import BalanceKind
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.surfaces.test_admin_support import assert_audited, make_operator, ok, problem


def _balanced(db: Database, account_id: int) -> Decimal:
    """The SMS balance, after checking that it equals the sum of its ledger entries."""
    with db.read() as session:
        for kind in BalanceKind:
            assert ledger.balance(session, account_id, kind) == ledger.entries_total(
                session, account_id, kind
            )
        return ledger.balance(session, account_id)


def test_topups_and_adjustments_are_ledger_entries(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    c = make_customer(db, balance=Decimal("10"), credit_limit=Decimal("5"))
    base = f"/v1/admin/accounts/{c.account_id}"
    topped = ok(
        client.post(
            f"{base}/topups", headers=op.headers, json={"amount": "2.50", "reason": "bank 1042"}
        ),
        201,
    )
    assert topped["balance"] == "12.50" and topped["currency"] == "EUR"
    assert topped["entry"]["type"] == "topup" and topped["entry"]["description"] == "bank 1042"
    viber = ok(
        client.post(
            f"{base}/topups",
            headers=op.headers,
            json={"amount": "3", "reason": "viber pack", "kind": "viber"},
        ),
        201,
    )
    assert viber["entry"]["kind"] == "viber" and viber["balance"] == "3.00"
    down = ok(
        client.post(
            f"{base}/adjustments",
            headers=op.headers,
            json={"amount": "-15.5", "reason": "double payment"},
        ),
        201,
    )
    assert down["balance"] == "-3.00" and down["entry"]["type"] == "adjustment"
    # below -credit_limit (-5) only when forced
    body = problem(
        client.post(
            f"{base}/adjustments", headers=op.headers, json={"amount": "-2.01", "reason": "fee"}
        ),
        422,
        "below_credit_limit",
    )
    assert "force" in body["detail"]
    forced = ok(
        client.post(
            f"{base}/adjustments",
            headers=op.headers,
            json={"amount": "-2.01", "reason": "fee", "force": True},
        ),
        201,
    )
    assert forced["balance"] == "-5.01"
    assert _balanced(db, c.account_id) == Decimal("-5.01")
    assert client.get("/v1/balance", headers=c.headers).json()["balances"] == {
        "sms": "-5.01",
        "viber": "3.00",
    }
    target = f"account:{c.account_id}"
    topup = assert_audited(db, op, "account.topup", target)
    assert json.loads(topup.details)["kind"] == "viber"
    adjust = assert_audited(db, op, "account.adjust", target)
    assert json.loads(adjust.details) == {
        "amount": "-2.01",
        "kind": "sms",
        "reason": "fee",
        "forced": True,
        "ledger_entry_id": forced["entry"]["id"],
    }

    for bad, code in (
        ({"amount": "0", "reason": "x"}, "invalid_request"),
        ({"amount": "-1", "reason": "x"}, "invalid_request"),
        ({"amount": "abc", "reason": "x"}, "invalid_request"),
        ({"amount": "1"}, "invalid_request"),
        ({"amount": "1", "reason": " "}, "invalid_request"),
        ({"amount": "1", "reason": "x", "kind": "mms"}, "invalid_request"),
    ):
        problem(client.post(f"{base}/topups", headers=op.headers, json=bad), 422, code)
    problem(
        client.post(f"{base}/adjustments", headers=op.headers, json={"amount": "0", "reason": "x"}),
        422,
        "invalid_request",
    )
    problem(
        client.post(f"{base}/adjustments", headers=op.headers, json={"amount": "1", "reason": ""}),
        422,
        "invalid_request",
    )
    problem(
        client.post(
            "/v1/admin/accounts/999999/topups",
            headers=op.headers,
            json={"amount": "1", "reason": "x"},
        ),
        404,
        "account_not_found",
    )
    assert _balanced(db, c.account_id) == Decimal("-5.01")
    with db.read() as session:
        entries = ledger.list_entries(session, c.account_id, limit=10)
    assert [e.entry_type for e in entries] == [
        "adjustment",
        "adjustment",
        "topup",
        "topup",
        "topup",
    ]


def test_sender_names_are_reviewed(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob", sender="BOBCO")
    for who, name in ((alice, "ALICE1"), (alice, "ALICE2"), (bob, "BOB2")):
        ok(client.post("/v1/senders", headers=who.headers, json={"name": name}), 201)
    pending = ok(client.get("/v1/admin/senders", headers=op.headers, params={"status": "pending"}))
    assert [s["name"] for s in pending["senders"]] == ["ALICE1", "ALICE2", "BOB2"]
    assert pending["total"] == 3
    ids = {s["name"]: s["id"] for s in pending["senders"]}
    only_bob = ok(
        client.get("/v1/admin/senders", headers=op.headers, params={"account_id": bob.account_id})
    )
    assert {s["name"] for s in only_bob["senders"]} == {"BOBCO", "BOB2"}

    approved = ok(client.post(f"/v1/admin/senders/{ids['ALICE1']}/approve", headers=op.headers))
    assert approved["status"] == "approved"
    problem(
        client.post(f"/v1/admin/senders/{ids['ALICE2']}/reject", headers=op.headers, json={}),
        422,
        "invalid_request",
    )
    rejected = ok(
        client.post(
            f"/v1/admin/senders/{ids['ALICE2']}/reject",
            headers=op.headers,
            json={"reason": "brand of someone else"},
        )
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "brand of someone else"
    mine = {s["name"]: s for s in client.get("/v1/senders", headers=alice.headers).json()}
    assert mine["ALICE1"]["status"] == "approved"
    assert mine["ALICE2"]["reason"] == "brand of someone else"
    sent = client.post(
        "/v1/messages",
        headers=alice.headers,
        json={"to": "+37126123456", "text": "hi", "sender": "ALICE1"},
    )
    assert sent.status_code == 200, sent.text
    left = ok(client.get("/v1/admin/senders", headers=op.headers, params={"status": "pending"}))
    assert [s["name"] for s in left["senders"]] == ["BOB2"]
    entry = assert_audited(db, op, "sender.reject", f"sender:{ids['ALICE2']}")
    assert json.loads(entry.details)["reason"] == "brand of someone else"
    assert_audited(db, op, "sender.approve", f"sender:{ids['ALICE1']}")
    problem(
        client.post("/v1/admin/senders/999999/approve", headers=op.headers), 404, "sender_not_found"
    )
    problem(
        client.get("/v1/admin/senders", headers=op.headers, params={"status": "maybe"}),
        422,
        "invalid_request",
    )


def test_invoices_are_listed_paid_and_cancelled(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    op = make_operator(db)
    alice = make_customer(db, name="Alice", balance=Decimal(0))
    bob = make_customer(db, name="Bob", balance=Decimal(0))
    with db.write() as session:
        first = create_invoice(session, alice.account_id, Decimal("20"), settings=settings)
        second = create_invoice(session, alice.account_id, Decimal("5"), settings=settings)
        third = create_invoice(session, bob.account_id, Decimal("7.50"), settings=settings)
        numbers = (first.number, second.number, third.number)
        ids = (first.id, second.id, third.id)
    assert "/" in numbers[0]  # why numbers travel in the query
    page = ok(client.get("/v1/admin/invoices", headers=op.headers, params={"limit": 2}))
    assert page["total"] == 3 and [i["id"] for i in page["invoices"]] == [ids[2], ids[1]]
    paid = ok(client.post(f"/v1/admin/invoices/{ids[0]}/pay", headers=op.headers))
    assert paid["status"] == "paid" and paid["paid_by"] == op.actor and paid["paid_at"]
    assert client.get("/v1/balance", headers=alice.headers).json()["balance"] == "20.00"
    by_number = ok(
        client.post("/v1/admin/invoices/pay", headers=op.headers, params={"number": numbers[2]})
    )
    assert by_number["id"] == ids[2] and by_number["status"] == "paid"
    assert client.get("/v1/balance", headers=bob.headers).json()["balance"] == "7.50"
    cancelled = ok(
        client.post("/v1/admin/invoices/cancel", headers=op.headers, params={"number": numbers[1]})
    )
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    problem(
        client.post(f"/v1/admin/invoices/{ids[1]}/pay", headers=op.headers),
        422,
        "invoice_cancelled",
    )
    problem(
        client.post(f"/v1/admin/invoices/{ids[0]}/pay", headers=op.headers),
        422,
        "invoice_already_paid",
    )
    problem(
        client.post(f"/v1/admin/invoices/{ids[0]}/cancel", headers=op.headers),
        422,
        "invoice_already_paid",
    )
    problem(
        client.post("/v1/admin/invoices/999999/pay", headers=op.headers), 404, "invoice_not_found"
    )
    problem(
        client.post("/v1/admin/invoices/pay", headers=op.headers, params={"number": "X1/2"}),
        404,
        "invoice_not_found",
    )
    problem(client.post("/v1/admin/invoices/pay", headers=op.headers), 422, "invalid_request")

    paid_only = ok(client.get("/v1/admin/invoices", headers=op.headers, params={"status": "paid"}))
    assert {i["id"] for i in paid_only["invoices"]} == {ids[0], ids[2]}
    of_bob = ok(
        client.get("/v1/admin/invoices", headers=op.headers, params={"account_id": bob.account_id})
    )
    assert [i["id"] for i in of_bob["invoices"]] == [ids[2]]
    one = ok(client.get("/v1/admin/invoices", headers=op.headers, params={"number": numbers[1]}))
    assert [i["status"] for i in one["invoices"]] == ["cancelled"] and one["total"] == 1
    assert ok(client.get(f"/v1/admin/invoices/{ids[1]}", headers=op.headers)) == cancelled
    problem(
        client.get("/v1/admin/invoices", headers=op.headers, params={"status": "lost"}),
        422,
        "invalid_request",
    )
    assert_audited(db, op, "invoice.pay", f"invoice:{numbers[0]}")
    assert_audited(db, op, "invoice.pay", f"invoice:{numbers[2]}")
    assert_audited(db, op, "invoice.cancel", f"invoice:{numbers[1]}")
    assert _balanced(db, alice.account_id) == Decimal("20")
