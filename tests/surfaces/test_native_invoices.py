"""``/v1/invoices`` over real HTTP: create, list, read, download, isolation and errors."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from pypdf import PdfReader

from smsgate.billing import invoices
from smsgate.db import Database
from tests.support.factories import Customer, make_customer


def _problem(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == code and body["detail"]
    return body


def _create(client: httpx.Client, who: Customer, **body: object) -> httpx.Response:
    return client.post("/v1/invoices", headers=who.headers, json=body)


def test_create_read_list_and_download(db: Database, client: httpx.Client) -> None:
    me = make_customer(db)
    answer = _create(client, me, amount="500", kind="sms", type="replenishment")
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert re.fullmatch(r"C\d{5,}/\d{8}", created["number"])
    assert created["number"].startswith(f"C{10000 + created['id']}/")
    assert {k: created[k] for k in ("kind", "type", "status", "amount", "tax", "total")} == {
        "kind": "sms", "type": "replenishment", "status": "unpaid",
        "amount": "500.00", "tax": "0.00", "total": "500.00",
    }  # fmt: skip
    assert created["currency"] == "EUR"
    assert created["comment"] == "Top up your SMS balance with 500.00 EUR"
    assert created["paid_at"] is None

    one = client.get(f"/v1/invoices/{created['id']}", headers=me.headers)
    assert one.status_code == 200
    assert one.json() == created

    page = client.get("/v1/invoices", headers=me.headers)
    assert page.status_code == 200
    assert page.json() == {"invoices": [created], "total": 1}

    pdf = client.get(f"/v1/invoices/{created['id']}.pdf", headers=me.headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    safe = created["number"].replace("/", "-")
    assert pdf.headers["content-disposition"] == f'attachment; filename="invoice-{safe}.pdf"'
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert f"Invoice No. {created['number']}" in text
    assert "Acme" in text and "500.00 EUR" in text


def test_defaults_viber_and_payment_shown(db: Database, client: httpx.Client) -> None:
    me = make_customer(db)
    plain = _create(client, me, amount=120)  # an integer, as sms.by sends it
    assert plain.status_code == 201, plain.text
    assert (plain.json()["kind"], plain.json()["type"]) == ("sms", "replenishment")
    viber = _create(client, me, amount="99.90", kind="viber", type="subscription")
    assert viber.status_code == 201, viber.text
    assert viber.json()["comment"] == "Viber subscription payment of 99.90 EUR"

    with db.write() as session:
        invoice = invoices.get_invoice(session, me.account_id, viber.json()["id"])
        invoices.pay_invoice(session, invoice, actor="cli:test")
    paid = client.get(f"/v1/invoices/{viber.json()['id']}", headers=me.headers).json()
    assert paid["status"] == "paid"
    assert paid["paid_at"] is not None
    balance = client.get("/v1/balance", headers=me.headers).json()
    assert balance["balances"]["viber"] == "99.90"


def test_pagination_and_status_filter(db: Database, client: httpx.Client) -> None:
    me = make_customer(db)
    ids = [_create(client, me, amount=str(n)).json()["id"] for n in (1, 2, 3)]
    with db.write() as session:
        invoices.cancel_invoice(
            session, invoices.get_invoice(session, me.account_id, ids[1]), actor="cli:test"
        )

    def page(**params: object) -> tuple[list[int], int]:
        answer = client.get("/v1/invoices", headers=me.headers, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return [i["id"] for i in body["invoices"]], body["total"]

    assert page(limit=2) == ([ids[2], ids[1]], 3)
    assert page(limit=2, offset=2) == ([ids[0]], 3)
    assert page(status="unpaid") == ([ids[2], ids[0]], 2)
    assert page(status="cancelled") == ([ids[1]], 1)
    assert page(offset=10) == ([], 3)
    for bad in ({"status": "lost"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        _problem(client.get("/v1/invoices", headers=me.headers, params=bad), 422, "invalid_request")


def test_another_accounts_invoice_is_not_found(db: Database, client: httpx.Client) -> None:
    me, other = make_customer(db, name="Me"), make_customer(db, name="Other", sender="OTHER")
    theirs = _create(client, other, amount="10").json()
    for path in (f"/v1/invoices/{theirs['id']}", f"/v1/invoices/{theirs['id']}.pdf"):
        _problem(client.get(path, headers=me.headers), 404, "invoice_not_found")
    assert client.get("/v1/invoices", headers=me.headers).json() == {"invoices": [], "total": 0}
    _problem(client.get("/v1/invoices/424242", headers=me.headers), 404, "invoice_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "abc"}, "invalid_amount"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "-5"}, "invalid_amount"),
        ({"amount": "1000000000"}, "invalid_amount"),
        ({"amount": "1.005"}, "invalid_amount"),
        ({"amount": 1.5}, "invalid_request"),  # a JSON float: binary noise, refused
        ({"amount": "5", "kind": "fax"}, "invalid_request"),
        ({"amount": "5", "type": "gift"}, "invalid_request"),
        ({"amount": "5", "currency": "USD"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_bodies_are_422(
    db: Database, client: httpx.Client, body: dict[str, object], code: str
) -> None:
    me = make_customer(db)
    _problem(client.post("/v1/invoices", headers=me.headers, json=body), 422, code)
    assert client.get("/v1/invoices", headers=me.headers).json()["total"] == 0


def test_auth_and_bad_ids(db: Database, client: httpx.Client) -> None:
    _problem(client.get("/v1/invoices"), 401, "unauthenticated")
    _problem(client.post("/v1/invoices", json={"amount": "5"}), 401, "unauthenticated")
    _problem(client.get("/v1/invoices/1.pdf"), 401, "unauthenticated")
    me = make_customer(db)
    _problem(client.get("/v1/invoices/abc", headers=me.headers), 422, "invalid_request")
    _problem(client.get("/v1/invoices/abc.pdf", headers=me.headers), 422, "invalid_request")
