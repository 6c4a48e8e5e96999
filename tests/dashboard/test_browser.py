"""The customer pages in a real browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

from smsgate.billing.ledger import balance
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from tests.dashboard.conftest import Dashboard, enter, screenshot, sign_in


def expect(page: Any, selector: str, pattern: str, timeout: float = 10_000) -> None:
    from playwright.sync_api import expect as pw_expect

    pw_expect(page.locator(selector)).to_contain_text(re.compile(pattern), timeout=timeout)


def test_sign_in_shows_the_overview(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.customer(balance=Decimal("12.5"))
    page.goto("/app/messages")  # not signed in: sent to sign in, and back afterwards
    assert "/app/signin?next=/app/messages" in page.url
    screenshot(page, "signin")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page, "[role=alert]", "Wrong email or password")
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/messages")
    page.get_by_role("link", name="Overview").click()
    expect(page, "[data-balance=sms]", r"€12\.50")
    expect(page, "#by-status", "delivered")
    assert page.locator("svg.chart").count() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/signin")
    page.goto("/app")
    assert "/app/signin" in page.url


def test_send_a_message_and_see_it_delivered(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    enter(page, dashboard, user)
    page.get_by_role("link", name="Send", exact=True).click()
    page.get_by_label("Text").fill("Hello from the dashboard €")
    expect(page, "#counter", r"26 characters · GSM-7 · SMS parts: 1 · 133 left in this part")
    page.get_by_label("Text").fill("Привет")
    expect(page, "#counter", r"6 characters · UCS-2 · SMS parts: 1 · 64 left")
    page.get_by_label("Text").fill("Hello from the dashboard")
    page.locator("#recipients").fill("+37120000001")
    expect(page, "#price-table", r"Latvia Tele2\s*1\s*€0\.04")
    screenshot(page, "send")
    page.locator("#send-button").click()
    page.wait_for_url(re.compile(r".*/app/messages/\d+$"))
    for _ in range(50):  # the simulator answers within 0.05 s; the page is re-read
        if "delivered" in page.locator("h1").inner_text():
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(page, "h1", "delivered")
    expect(page, "#timeline", "Receipt for part 1")
    expect(page, "#parts", "simulator")
    screenshot(page, "message")
    with dashboard.db.read() as session:
        assert balance(session, user.account_id or 0) == Decimal("9.96")
    page.get_by_role("link", name="Overview").click()
    expect(page, "[data-balance=sms]", r"€9\.96")
    expect(page, "#spent-today", r"€0\.04")
    assert page.locator("svg.chart rect.bar").count() == 1  # today: 1 of 1 delivered
    screenshot(page, "overview")


def test_upload_a_scheduled_sending_and_cancel_it(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    user = dashboard.customer(timezone="Europe/Riga")
    numbers = ["+37120000011", "+37120000012", "+998901234567", "12345", "+37120000011"]
    csv_file = tmp_path / "recipients.csv"
    csv_file.write_text("name,phone\n" + "".join(f"n{i},{n}\n" for i, n in enumerate(numbers)))
    enter(page, dashboard, user, "/app/send")
    page.get_by_label("Text").fill("Sale tomorrow")
    page.locator("#file").set_input_files(str(csv_file))
    page.wait_for_selector("#upload-status[data-state=ready]")
    expect(page, "#upload-text", r"3 valid · 1 invalid · 1 repeated")
    expect(page, "#price-table", r"Uzbekistan.*Total\s*3\s*€0\.13")  # 2 × 0.04 + 0.05
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT10:30")
    page.locator("#schedule").fill(tomorrow)
    screenshot(page, "upload")
    page.locator("#send-button").click()
    page.wait_for_url(re.compile(r".*/app/sendings/\d+$"))
    expect(page, "#sending-status", "scheduled")
    expect(page, "#scheduled-at", r"10:30.*Europe/Riga")
    page.locator("#cancel-sending").click()
    expect(page, "#sending-status", "cancelled")
    expect(page, "[role=status]", "Cancelled")
    screenshot(page, "sending")
    with dashboard.db.read() as session:
        assert balance(session, user.account_id or 0) == Decimal("10")


def test_create_a_token_use_it_and_revoke_it(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    enter(page, dashboard, user, "/app/tokens")
    page.get_by_label("Label").fill("from the browser")
    page.get_by_role("button", name="Create").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("sg_")
    screenshot(page, "tokens")
    api = httpx.get(f"{dashboard.url}/v1/balance", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    row = page.locator("tr", has_text="from the browser")
    row.get_by_role("button", name="Revoke").click()
    expect(page, "[role=status]", "Token revoked")
    assert page.locator("#new-token").count() == 0  # shown once, never again
    api = httpx.get(f"{dashboard.url}/v1/balance", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_create_an_invoice_and_download_its_pdf(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    enter(page, dashboard, user, "/app/invoices")
    page.get_by_label("Amount").fill("25")
    page.get_by_role("button", name="Create the invoice").click()
    expect(page, "#invoices", r"€25\.00\s*unpaid")
    number = page.locator("#invoices tbody tr td").first.inner_text()
    screenshot(page, "invoices")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download").first.click()
    download = caught.value
    assert download.suggested_filename == f"invoice-{number.replace('/', '-')}.pdf"
    text = PdfReader(io.BytesIO(Path(download.path()).read_bytes())).pages[0].extract_text()
    assert number in text


def test_another_customers_pages_are_refused(page: Any, dashboard: Dashboard) -> None:
    owner, other = dashboard.customer(), dashboard.customer()
    sent = httpx.post(
        f"{dashboard.url}/v1/sendings",
        headers=owner.headers,
        json={"recipients": ["+37120000021", "+37120000022"], "text": "x", "sender": "ACME"},
    ).json()
    invoice = httpx.post(
        f"{dashboard.url}/v1/invoices", headers=owner.headers, json={"amount": "5"}
    ).json()
    with dashboard.db.read() as session:
        (message,) = queries.list_messages(
            session, owner.account_id or 0, queries.MessageFilter(sending_id=sent["id"]), limit=1
        )
    enter(page, dashboard, other)
    for path in (
        f"/app/messages/{message.id}",
        f"/app/sendings/{sent['id']}",
        f"/app/invoices/{invoice['id']}.pdf",
    ):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page, "h1", "Not found")
    refused = page.request.post(
        f"/app/sendings/{sent['id']}/cancel",
        form={"csrf_token": page.locator("meta[name=csrf-token]").get_attribute("content")},
    )
    assert refused.status == 404
    screenshot(page, "refused")
    page.context.clear_cookies()
    enter(page, dashboard, owner, f"/app/messages/{message.id}")
    expect(page, "h1", f"Message {message.id}")


def test_russian_locale(page: Any, dashboard: Dashboard) -> None:
    user = dashboard.customer(locale="ru", balance=Decimal("1234.5"))
    sign_in(page, user)
    assert page.locator("html").get_attribute("lang") == "ru"
    expect(page, "h1", "Обзор")
    expect(page, "[data-balance=sms]", "1\u00a0234,50\u00a0€")
    expect(page, "nav", "Отправить")
    screenshot(page, "overview-ru")
    page.goto("/app/send")
    page.get_by_label("Текст").fill("Привет")
    expect(page, "#counter", "символов: 6 · UCS-2")
