"""The operator's pages in a real browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from smsgate.accounts.service import get_account
from smsgate.billing import invoices, ledger
from smsgate.pricing.admin import export_rates
from smsgate.senders.service import list_senders, request_sender
from tests.dashboard.conftest import Dashboard, User, enter, screenshot, sign_in
from tests.dashboard.test_browser import expect
from tests.support.factories import make_customer


@pytest.fixture(scope="module")
def operator(dashboard: Dashboard) -> User:
    return dashboard.operator()


def test_operator_signs_in_to_the_overview(page: Any, dashboard: Dashboard, operator: User) -> None:
    customer = make_customer(dashboard.db, name="Northwind")
    with dashboard.db.write() as session:
        request_sender(session, customer.account_id, "NORTHWIND")
        invoices.create_invoice(
            session, customer.account_id, Decimal("25"), settings=dashboard.settings
        )
    sent = httpx.post(
        f"{dashboard.url}/v1/messages",
        headers=customer.headers,
        json={"to": ["+37120000081", "+37120000082", "+998901234581"], "text": "Hi",
              "sender": customer.sender},
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    sign_in(page, operator)  # the form, once; the other tests enter with a made session
    assert page.url.endswith("/admin")
    expect(page, "h1", "Operator overview")
    expect(page, "#connectors-glance", r"simulator\s*healthy")
    expect(page, "#traffic", "delivered")
    assert int(page.locator("#pending-senders").inner_text()) >= 1
    assert int(page.locator("#unpaid-invoices").inner_text()) >= 1
    screenshot(page, "admin-overview")
    page.get_by_role("link", name="Connectors and routes").first.click()
    expect(page, "#connectors", "simulator")
    screenshot(page, "admin-connectors")


def test_approve_a_sender_name_by_keyboard(page: Any, dashboard: Dashboard, operator: User) -> None:
    customer = make_customer(dashboard.db)
    with dashboard.db.write() as session:
        sender = request_sender(session, customer.account_id, "NEWBRAND")
    enter(page, dashboard, operator, "/admin/senders")
    row = page.locator(f"#sender-{sender.id}")
    expect(page, f"#sender-{sender.id}", r"NEWBRAND[\s\S]*pending")
    screenshot(page, "admin-senders")
    row.get_by_role("button", name="Approve NEWBRAND").focus()
    page.keyboard.press("Enter")
    expect(page, "[role=status]", "Sender name approved.")
    assert page.locator(f"#sender-{sender.id}").count() == 0  # no longer pending
    with dashboard.db.read() as session:
        (found,) = [s for s in list_senders(session, customer.account_id) if s.name == "NEWBRAND"]
    assert found.status == "approved"


def test_confirm_an_invoice_payment(page: Any, dashboard: Dashboard, operator: User) -> None:
    customer = make_customer(dashboard.db, balance=Decimal("3"))
    with dashboard.db.write() as session:
        invoice = invoices.create_invoice(
            session, customer.account_id, Decimal("40"), settings=dashboard.settings
        )
        number, invoice_id = invoice.number, invoice.id
    enter(page, dashboard, operator, "/admin/invoices?status=unpaid")
    page.get_by_label("Number").fill(number)
    page.get_by_label("Number").press("Enter")
    expect(page, f"#invoice-{invoice_id}", "unpaid")
    screenshot(page, "admin-invoices")
    page.get_by_role("button", name=f"Confirm the payment of {number}").click()
    expect(page, "[role=status]", "Payment recorded")
    expect(page, f"#invoice-{invoice_id}", "paid")
    assert page.get_by_role("button", name=f"Confirm the payment of {number}").count() == 0
    with dashboard.db.read() as session:
        assert ledger.balance(session, customer.account_id) == Decimal("43")


def test_import_a_plan_with_its_preview(page: Any, dashboard: Dashboard, operator: User) -> None:
    name = "retail 2027"
    enter(page, dashboard, operator, "/admin/plans")
    old = "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n257,,Belarus,,0.06\n"
    new = "mcc,mnc,country,network,price\n247,,Latvia,,0.035\n250,,Russia,,0.07\n"
    for card, counts in ((old, ("2", "0", "0")), (new, ("1", "1", "1"))):
        page.get_by_label("Plan", exact=True).fill(name)
        page.get_by_label("Rate card (CSV)").set_input_files(
            {"name": "rates.csv", "mimeType": "text/csv", "buffer": card.encode()}
        )
        page.get_by_role("button", name="Preview the changes").click()
        for kind, count in zip(("added", "changed", "removed"), counts, strict=True):
            expect(page, f"[data-count={kind}]", f"^{count}$")
        if card is new:
            expect(page, ".change-changed", r"247[\s\S]*Latvia[\s\S]*0\.04\s*0\.035")
            screenshot(page, "admin-plan-preview")
        page.get_by_role("button", name="Apply the import").click()
        expect(page, "[role=status]", "Rate card imported.")
    expect(page, "tr.highlight", rf"{name}\s*2")
    with dashboard.db.read() as session:
        assert export_rates(session, name) == "mcc,mnc,country,network,price\r\n" + (
            "247,,Latvia,,0.035\r\n250,,Russia,,0.07\r\n"
        )


def test_suspend_an_account_and_the_customer_is_refused(
    page: Any, browser: Any, dashboard: Dashboard, operator: User
) -> None:
    customer = dashboard.customer()
    with dashboard.db.read() as session:
        name = get_account(session, customer.account_id or 0).name
    enter(page, dashboard, operator, "/admin/accounts")
    page.get_by_label("Name or email").fill(name)
    page.get_by_role("button", name="Search").click()
    expect(page, "#accounts tbody", rf"^\s*{customer.account_id}\s*{name}")
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("button", name="Suspend: refuse its tokens and sends").click()
    expect(page, "[role=status]", "Account suspended")
    expect(page, "h1", "suspended")
    screenshot(page, "admin-account")
    refused = httpx.get(f"{dashboard.url}/v1/balance", headers=customer.headers)
    assert refused.status_code == 403 and "account_suspended" in refused.text

    other = browser.new_context(base_url=dashboard.url, locale="en-US")
    try:
        theirs = other.new_page()
        enter(theirs, dashboard, customer, "/app/send")
        expect(theirs, "[role=alert]", "This account is suspended")
        theirs.get_by_label("Text").fill("still here?")
        theirs.locator("#recipients").fill("+37120000071")
        theirs.locator("#send-button").click()
        expect(theirs, "#form-error", "the account is suspended")
    finally:
        other.close()
    page.get_by_role("button", name="Resume").click()
    expect(page, "[role=status]", "Account resumed.")
    ok = httpx.get(f"{dashboard.url}/v1/balance", headers=customer.headers)
    assert ok.status_code == 200
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("account.suspend")
    page.get_by_label("Action").press("Enter")
    expect(page, "#audit tbody", rf"user:\d+\s*account.suspend\s*account:{customer.account_id}")
    page.goto("/admin/audit")
    screenshot(page, "admin-audit")
