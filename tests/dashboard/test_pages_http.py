"""The customer pages over HTTP: each calls the core and shows what it answered."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import httpx

from smsgate.config import Settings
from smsgate.connectors.base import InboundMessage
from smsgate.inbound import service as inbound
from smsgate.inbound.keywords import Keywords
from smsgate.kit.csvsafe import unneutralise
from smsgate.kit.time import utcnow
from tests.dashboard.conftest import Dashboard, User, csrf_of, http_sign_in
from tests.support.waiting import wait_for
from tests.webhooks.receiver import receiving


def _signed_in(http: httpx.Client, user: User) -> str:
    http_sign_in(http, user)
    return csrf_of(http.get("/app/me").text)


def _send(dashboard: Dashboard, user: User, to: list[str], text: str) -> dict[str, object]:
    answer = httpx.post(
        f"{dashboard.url}/v1/messages",
        headers=user.headers,
        json={"to": to, "text": text, "sender": user.sender},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_history_filters_and_a_csv_export_safe_for_spreadsheets(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    _send(dashboard, user, ["+37120000031"], '=HYPERLINK("http://x")')
    _send(dashboard, user, ["+998901234500"], "plain")
    _signed_in(http, user)
    everything = http.get("/app/messages")
    assert "+37120000031" in everything.text and "+998901234500" in everything.text
    one = http.get("/app/messages", params={"phone": "+998 90 123 45 00"})
    assert "+998901234500" in one.text and "+37120000031" not in one.text
    today = utcnow().date().isoformat()
    none = http.get("/app/messages", params={"until": "2020-01-01"})
    assert "No messages match." in none.text
    export = http.get("/app/messages.csv", params={"since": today})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["to"] for r in rows} == {"37120000031", "998901234500"}
    formula = next(r for r in rows if r["to"] == "37120000031")
    assert formula["text"].startswith("'=")  # never run by a spreadsheet
    assert unneutralise(formula["text"]) == '=HYPERLINK("http://x")'
    assert http.get("/app/messages", params={"status": "bogus"}).status_code == 422
    assert http.get("/app/messages", params={"since": "yesterday"}).status_code == 422


def test_a_message_page_shows_parts_timeline_and_can_cancel_before_it_leaves(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    later = "2099-01-01T09:00"
    sent = http.post(
        "/app/send",
        data={"text": "Later", "sender": user.sender, "recipients": "+37120000041",
              "schedule": later, "csrf_token": token},
    )  # fmt: skip
    assert sent.status_code == 303
    page = http.get(sent.headers["location"])
    assert "scheduled" in page.text and "Scheduled for" in page.text
    cancelled = http.post(sent.headers["location"] + "/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    page = http.get(sent.headers["location"])
    assert "cancelled" in page.text and "refunded" in page.text
    again = http.post(sent.headers["location"] + "/cancel", data={"csrf_token": token})
    assert again.status_code == 422 and "can no longer be cancelled" in again.text


def test_a_refused_send_keeps_what_was_typed(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer(balance=Decimal("0.01"))
    token = _signed_in(http, user)
    form = {"text": "Hello", "sender": user.sender, "csrf_token": token}
    bad = http.post("/app/send", data=form | {"recipients": "+37120000051\n12345"})
    assert bad.status_code == 422
    assert "not valid phone numbers" in bad.text and "12345</textarea>" in bad.text
    poor = http.post("/app/send", data=form | {"recipients": "+37120000051"})
    assert poor.status_code == 402 and "balance" in poor.text
    odd = http.post("/app/send", data=form | {"recipients": "+37120000051", "schedule": "soon"})
    assert odd.status_code == 422 and "is not a date and time" in odd.text


def test_segments_and_quote_come_from_the_core(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    headers = {"X-CSRF-Token": token}
    long_text = "x" * 161
    counted = http.post("/app/api/segments", json={"text": long_text}, headers=headers).json()
    assert counted == {"characters": 161, "encoding": "gsm7", "parts": 2, "units": 161,
                       "per_part": 153, "remaining": 145}  # fmt: skip
    quoted = http.post(
        "/app/api/quote",
        json={"text": long_text, "recipients": "+37120000061, +998901234561; nonsense"},
        headers=headers,
    ).json()
    assert quoted["numbers"] == 2 and quoted["invalid"][0]["number"] == "nonsense"
    assert {line["destination"] for line in quoted["lines"]} == {
        "Latvia Tele2",
        "Uzbekistan Beeline",
    }
    assert quoted["total"] == "0.18"  # 2 parts × (0.04 + 0.05)
    bad = http.post("/app/api/quote", json={"text": 5}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_sender_names_and_the_opt_out_list(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    asked = http.post("/app/senders", data={"name": "NEWNAME", "csrf_token": token})
    assert asked.status_code == 303
    page = http.get(asked.headers["location"]).text
    assert re.search(r"NEWNAME</td><td><span class=\"status s-pending\">", page)
    bad = http.post("/app/senders", data={"name": "far too long a name", "csrf_token": token})
    assert bad.status_code == 422 and "sender" in bad.text
    added = http.post("/app/opt-outs", data={"msisdn": "+371 2000 0071", "csrf_token": token})
    assert "+37120000071" in http.get(added.headers["location"]).text
    refused = httpx.post(
        f"{dashboard.url}/v1/messages",
        headers=user.headers,
        json={"to": "+37120000071", "text": "hi", "sender": user.sender},
    )
    assert refused.status_code == 422 and "opted_out" in refused.text
    removed = http.post("/app/opt-outs/37120000071/remove", data={"csrf_token": token})
    assert "+37120000071" not in http.get(removed.headers["location"]).text


def test_inbound_messages(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer(sender="4611")
    with dashboard.db.write() as session:
        inbound.record(
            session,
            [InboundMessage("carrier", "37120000081", "4611", "Hello <back>", utcnow())],
            Keywords.from_settings(Settings()),
            utcnow(),
        )
    _signed_in(http, user)
    page = http.get("/app/inbound").text
    assert "Hello &lt;back&gt;" in page and "/app/send?to=37120000081" in page


def test_webhooks_secret_once_deliveries_and_replay(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    with receiving() as receiver:
        saved = http.post(
            "/app/webhooks", data={"url": receiver.url + "/hook", "csrf_token": token}
        )
        assert saved.status_code == 200
        secret = re.search(r'id="webhook-secret" class="secret">([^<]+)<', saved.text)
        assert secret and len(secret.group(1)) >= 20
        assert secret.group(1) not in http.get("/app/webhooks").text  # shown once
        _send(dashboard, user, ["+37120000091"], "hook me")
        wait_for(lambda: len(receiver.calls("/hook")) >= 2)  # submitted, delivered
        page = http.get("/app/webhooks").text
        delivery = re.search(r"/app/webhooks/deliveries/(\d+)/replay", page)
        assert delivery
        before = len(receiver.calls("/hook"))
        replayed = http.post(delivery.group(0), data={"csrf_token": token})
        assert replayed.status_code == 303
        wait_for(lambda: len(receiver.calls("/hook")) > before)
        rotated = http.post("/app/webhooks/secret", data={"csrf_token": token})
        fresh = re.search(r'id="webhook-secret" class="secret">([^<]+)<', rotated.text)
        assert fresh and fresh.group(1) != secret.group(1)


def test_invoices_list_and_amount_checks(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    for amount, status in (("12,50", 303), ("-5", 422), ("abc", 422), ("0.001", 422)):
        answer = http.post("/app/invoices", data={"amount": amount, "csrf_token": token})
        assert answer.status_code == status, amount
    page = http.get("/app/invoices").text
    assert "€12.50" in page and "unpaid" in page


def test_the_language_is_chosen_per_user(http: httpx.Client, dashboard: Dashboard) -> None:
    user = dashboard.customer()
    token = _signed_in(http, user)
    assert "Overview" in http.get("/app").text
    http.post("/app/me/locale", data={"locale": "ru", "csrf_token": token})
    page = http.get("/app").text
    assert "Обзор" in page and "10,00\u00a0€" in page
    assert (
        http.post("/app/me/locale", data={"locale": "xx", "csrf_token": token}).status_code == 422
    )


def test_signed_out_visitors_get_the_language_they_ask_for(http: httpx.Client) -> None:
    page = http.get("/app/signin", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert "Вход в smsgate" in page.text
    assert "Sign in to smsgate" in http.get("/app/signin", headers={"Accept-Language": "de"}).text
