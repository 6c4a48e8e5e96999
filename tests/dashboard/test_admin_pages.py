"""The operator's pages over HTTP: each calls the core, shows what it answered, and audits."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.audit.service import list_entries, record
from smsgate.billing import invoices, ledger
from smsgate.dashboard import pages
from smsgate.dashboard.users import find_by_email, set_locale
from smsgate.dashboard.web import SESSION_COOKIE
from smsgate.messaging import queries
from smsgate.pricing.admin import list_plans, plan_summary
from smsgate.routing.service import list_routes
from smsgate.senders.service import list_senders, request_sender
from tests.dashboard.conftest import Dashboard, User, csrf_of, open_session
from tests.support.factories import make_customer


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of a router; FastAPI >= 0.16x keeps an included router as one entry."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _routes(inner.routes) if inner is not None else (route,)


ADMIN_ROUTES = [
    (method, route.path)
    for route in _routes(pages.router.routes)
    if route.path.startswith("/admin")
    for method in sorted(route.methods)
]


@pytest.fixture(scope="module")
def operator(dashboard: Dashboard) -> User:
    """One operator for the module: making a user costs an argon2 hash."""
    return dashboard.operator()


def _enter(http: httpx.Client, dashboard: Dashboard, user: User) -> str:
    """Sign ``http`` in as ``user`` (a session made by the service); the CSRF token."""
    http.cookies.set(SESSION_COOKIE, open_session(dashboard, user))
    return csrf_of(http.get("/admin" if user.account_id is None else "/app/me").text)


def _audited(dashboard: Dashboard, action: str, target: str) -> dict[str, str]:
    with dashboard.db.read() as session:
        found = [e for e in list_entries(session, limit=50, action=action) if e.target == target]
    assert found, f"no {action} entry for {target}"
    return {"actor": found[0].actor, "details": found[0].details}


def test_every_admin_route_refuses_customers_and_anonymous_callers(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    assert len(ADMIN_ROUTES) >= 25  # the sweep below covers every page and every action
    with httpx.Client(base_url=dashboard.url, timeout=30) as anonymous:
        for method, path in ADMIN_ROUTES:
            url = re.sub(r"\{[^}]+\}", "1", path)
            answer = anonymous.request(method, url)
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/app/signin?next="), (method, path)
    token = _enter(http, dashboard, dashboard.customer())
    for method, path in ADMIN_ROUTES:
        url = re.sub(r"\{[^}]+\}", "1", path)
        data = {"csrf_token": token} if method == "POST" else None
        answer = http.request(method, url, data=data)
        assert answer.status_code == 403, (method, path, answer.text[:200])
        assert "operator_only" in answer.text and "<html" in answer.text, (method, path)
    # and the customer's pages stay the customer's
    assert http.get("/app").status_code == 200


def test_forms_without_the_csrf_token_are_refused(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)
    _enter(http, dashboard, operator)
    for wrong in ({}, {"csrf_token": "guess"}):
        answer = http.post(f"/admin/accounts/{customer.account_id}/suspend", data=wrong)
        assert answer.status_code == 403 and "csrf_failed" in answer.text
    with dashboard.db.read() as session:
        assert get_account(session, customer.account_id).status == "active"


def test_overview_counts_come_from_the_core(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)
    with dashboard.db.write() as session:
        request_sender(session, customer.account_id, "WAITING")
    sent = httpx.post(
        f"{dashboard.url}/v1/messages",
        headers=customer.headers,
        json={"to": ["+37120000091"], "text": "hi", "sender": customer.sender},
    )
    assert sent.status_code == 200, sent.text
    _enter(http, dashboard, operator)
    page = http.get("/admin").text
    with dashboard.db.read() as session:
        pending = len(list_senders(session, customer.account_id))
        everything = queries.counts_by_status(session)
    assert pending >= 1
    shown = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r'data-status="(\w+)">([\d,]+)<', page)
    }
    assert sum(shown.values()) >= 1
    assert sum(shown.values()) <= sum(everything.values())
    assert re.search(r'id="pending-senders"><a href="/admin/senders">[1-9]', page)
    assert 'data-connector="simulator"' in page and "healthy" in page


def test_create_an_account_with_an_invitation(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    token = _enter(http, dashboard, operator)
    assert "standard" in http.get("/admin/accounts/new").text
    created = http.post(
        "/admin/accounts",
        data={"name": "Bravo Ltd", "currency": "usd", "plan": "standard", "balance": "12,50",
              "credit_limit": "5", "timezone": "Europe/Riga", "email": "bills@bravo.example",
              "invite_email": "ann@bravo.example", "csrf_token": token},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    api_token = re.search(r'id="new-token" class="secret">(sg_[\w-]+)<', created.text)
    link = re.search(
        r'id="invite-link" class="secret">http://[^/]+(/app/invite/[\w-]+)<', created.text
    )
    assert api_token and link
    account_id = int(re.search(r"#(\d+)</small>", created.text).group(1))  # type: ignore[union-attr]
    assert "$12.50" in created.text and "$5.00" in created.text
    balance = httpx.get(
        f"{dashboard.url}/v1/balance", headers={"Authorization": f"Bearer {api_token.group(1)}"}
    )
    assert balance.status_code == 200 and balance.json()["balance"] == "12.50"
    with httpx.Client(base_url=dashboard.url) as invitee:  # the link opens for anyone, once
        assert "Choose a password for ann@bravo.example" in invitee.get(link.group(1)).text
    assert _audited(dashboard, "account.create", f"account:{account_id}")["actor"].startswith(
        "user:"
    )
    assert (
        "ann@bravo.example"
        in _audited(dashboard, "user.invite", f"account:{account_id}")["details"]
    )
    listed = http.get("/admin/accounts", params={"q": "bravo"})
    assert "Bravo Ltd" in listed.text and "Acme" not in listed.text
    # refused input comes back as a page in the dashboard's shape, with nothing created
    refused = http.post(
        "/admin/accounts", data={"name": "Bad", "timezone": "Mars/Base", "csrf_token": token}
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "Bad" not in http.get("/admin/accounts", params={"q": "Bad"}).text.split("<tbody>")[1]
    taken = http.post(
        "/admin/accounts",
        data={"name": "Twice", "invite_email": operator.email, "csrf_token": token},
    )
    assert taken.status_code == 422 and "email_taken" in taken.text
    assert (
        "Twice" not in http.get("/admin/accounts", params={"q": "Twice"}).text.split("<tbody>")[1]
    )


def test_suspend_resume_plan_credit_and_money(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db, balance=Decimal("10"))
    token = _enter(http, dashboard, operator)
    base = f"/admin/accounts/{customer.account_id}"

    def post(path: str, **data: str) -> httpx.Response:
        return http.post(base + path, data={**data, "csrf_token": token})

    assert post("/suspend").status_code == 303
    refused = httpx.get(f"{dashboard.url}/v1/balance", headers=customer.headers)
    assert refused.status_code == 403  # at once: the page emptied the token cache
    assert "Account suspended" in http.get(base + "?done=suspended").text
    assert post("/resume").status_code == 303
    assert httpx.get(f"{dashboard.url}/v1/balance", headers=customer.headers).status_code == 200
    assert post("/plan", plan="").status_code == 303
    assert post("/credit-limit", credit_limit="7.5").status_code == 303
    assert post("/topup", amount="2.25", kind="sms", reason="bank transfer 42").status_code == 303
    assert post("/adjust", amount="-1", kind="sms", reason="goodwill undone").status_code == 303
    with dashboard.db.read() as session:
        assert ledger.balance(session, customer.account_id) == Decimal("11.25")
    too_far = post("/adjust", amount="-100", kind="sms", reason="debt")
    assert too_far.status_code == 422 and "below_credit_limit" in too_far.text
    assert (
        post("/adjust", amount="-100", kind="sms", reason="debt", force="true").status_code == 303
    )
    page = http.get(base).text
    assert "€-88.75" in page or "-€88.75" in page
    assert "bank transfer 42" in page and "€7.50" in page
    for action in ("suspend", "activate", "set_plan", "set_credit_limit", "topup", "adjust"):
        _audited(dashboard, f"account.{action}", f"account:{customer.account_id}")
    assert post("/topup", amount="abc", kind="sms", reason="x").status_code == 422
    assert post("/topup", amount="1", kind="gold", reason="x").status_code == 422
    assert post("/topup", amount="1", kind="sms", reason=" ").status_code == 422
    assert http.get("/admin/accounts/999999").status_code == 404
    assert http.get("/admin/accounts/0").status_code == 422
    assert http.get("/admin/accounts", params={"status": "gone"}).status_code == 422


CARD = (
    "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n257,,Belarus,,0.06\n"
)
NEW_CARD = (  # CRLF, as spreadsheets write it
    "mcc,mnc,country,network,price\r\n247,,Latvia,,0.05\r\n247,01,Latvia,LMT,0.03\r\n"
    "250,,Russia,,0.07\r\n"
)


def _preview(http: httpx.Client, token: str, name: str, card: str | bytes) -> httpx.Response:
    return http.post(
        "/admin/plans/preview",
        data={"name": name, "csrf_token": token},
        files={"card": ("rates.csv", card, "text/csv")},
    )


def _apply_form(html: str) -> dict[str, list[str]]:
    """The hidden fields of the preview's apply form, as the browser would send them."""
    form = html.split('action="/admin/plans/import"')[1].split("</form>")[0]
    fields: dict[str, list[str]] = {}
    for key, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form):
        fields.setdefault(key, []).append(unescape(value).replace("\n", "\r\n"))
    return fields


def test_plan_import_shows_its_changes_before_applying(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    token = _enter(http, dashboard, operator)
    name = f"wholesale {id(http)}"
    first = _preview(http, token, name, CARD)
    assert first.status_code == 200, first.text
    assert "the import creates it" in first.text
    assert 'data-count="added">3<' in first.text
    with dashboard.db.read() as session:
        assert name not in _plan_names(session)  # a preview changes nothing
    applied = http.post("/admin/plans/import", data=_apply_form(first.text))
    assert applied.status_code == 303 and "done=imported" in applied.headers["location"]
    second = _preview(http, token, name, NEW_CARD)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', second.text))
    assert counts == {"added": "1", "changed": "1", "removed": "1", "unchanged": "1"}
    changed = second.text.split('class="change-changed"')[1].split("</tr>")[0]
    assert "0.04" in changed and "0.05" in changed  # the old and the new price
    assert "Belarus" in second.text.split('class="change-removed"')[1]
    form = _apply_form(second.text)
    twice = http.post("/admin/plans/import", data=_apply_form(first.text))
    assert twice.status_code == 422 and "plan_changed" in twice.text  # made before it existed
    # someone else imports between this preview and its apply: the apply is refused
    other = _apply_form(_preview(http, token, name, CARD).text)
    assert http.post("/admin/plans/import", data=other).status_code == 303
    stale = http.post("/admin/plans/import", data=form)
    assert stale.status_code == 422 and "plan_changed" in stale.text
    fresh = _apply_form(_preview(http, token, name, NEW_CARD).text)
    assert http.post("/admin/plans/import", data=fresh).status_code == 303
    exported = http.get(f"/admin/plans/{name}/rates.csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = {(r["mcc"], r["mnc"]): r["price"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert rows == {("247", ""): "0.05", ("247", "01"): "0.03", ("250", ""): "0.07"}
    with dashboard.db.read() as session:
        assert plan_summary(session, name).rates == 3
    assert _audited(dashboard, "plan.import", f"plan:{name}")["actor"].startswith("user:")
    same = _preview(http, token, name, NEW_CARD)
    assert "changes nothing" in same.text


def _plan_names(session: Session) -> list[str]:
    return [s.plan.name for s in list_plans(session, limit=500)[0]]


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("mcc,price\n247,1\n", "line 1: the header lacks"),
        ("mcc,mnc,country,network,price\n24,,X,,1\n", "line 2: mcc"),
        ("mcc,mnc,country,network,price\n247,,X,,free\n", "line 2: price"),
        (b"mcc,mnc,country,network,price\n247,,\xff,,1\n", "line 2: not UTF-8"),
        ("mcc,mnc,country,network,price\n", "no rates"),
    ],
)
def test_a_bad_rate_card_is_named_by_its_line(
    http: httpx.Client, dashboard: Dashboard, card: str | bytes, message: str, operator: User
) -> None:
    token = _enter(http, dashboard, operator)
    answer = _preview(http, token, "never made", card)
    assert answer.status_code == 422 and message in answer.text


def test_sender_names_are_approved_and_rejected(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)
    with dashboard.db.write() as session:
        first = request_sender(session, customer.account_id, "FIRSTNAME")
        second = request_sender(session, customer.account_id, "SECONDNAME")
    token = _enter(http, dashboard, operator)
    assert "FIRSTNAME" in http.get("/admin/senders").text
    assert (
        http.post(f"/admin/senders/{first.id}/approve", data={"csrf_token": token}).status_code
        == 303
    )
    answer = http.post(
        f"/admin/senders/{second.id}/reject",
        data={"reason": "looks like a bank", "csrf_token": token, "back": "all"},
    )
    assert answer.status_code == 303 and "status=all" in answer.headers["location"]
    with dashboard.db.read() as session:
        states = {s.name: (s.status, s.reason) for s in list_senders(session, customer.account_id)}
    assert states["FIRSTNAME"] == ("approved", "")
    assert states["SECONDNAME"] == ("rejected", "looks like a bank")
    pending = http.get("/admin/senders").text
    assert "FIRSTNAME" not in pending and "SECONDNAME" not in pending
    assert "looks like a bank" in http.get("/admin/senders", params={"status": "rejected"}).text
    _audited(dashboard, "sender.approve", f"sender:{first.id}")
    _audited(dashboard, "sender.reject", f"sender:{second.id}")
    no_reason = http.post(f"/admin/senders/{first.id}/reject", data={"csrf_token": token})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    assert http.get("/admin/senders", params={"status": "maybe"}).status_code == 422
    assert http.post("/admin/senders/999999/approve", data={"csrf_token": token}).status_code == 404


def test_invoices_are_paid_or_cancelled_once(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db, balance=Decimal("1"))
    with dashboard.db.write() as session:
        paid = invoices.create_invoice(
            session, customer.account_id, Decimal("20"), settings=dashboard.settings
        )
        dropped = invoices.create_invoice(
            session, customer.account_id, Decimal("30"), settings=dashboard.settings
        )
        paid_id, paid_no, dropped_id = paid.id, paid.number, dropped.id
    token = _enter(http, dashboard, operator)
    listed = http.get("/admin/invoices", params={"account": str(customer.account_id)})
    assert paid_no in listed.text and "Confirm payment" in listed.text
    done = http.post(f"/admin/invoices/{paid_id}/pay", data={"csrf_token": token})
    assert done.status_code == 303
    assert "balance is credited" in http.get(done.headers["location"]).text
    assert (
        http.post(f"/admin/invoices/{dropped_id}/cancel", data={"csrf_token": token}).status_code
        == 303
    )
    again = http.post(f"/admin/invoices/{paid_id}/pay", data={"csrf_token": token})
    assert again.status_code == 422 and "invoice_already_paid" in again.text
    with dashboard.db.read() as session:
        assert ledger.balance(session, customer.account_id) == Decimal("21")
    _audited(dashboard, "invoice.pay", f"invoice:{paid_no}")
    one = http.get("/admin/invoices", params={"number": paid_no, "status": "", "account": ""})
    assert one.text.count('id="invoice-') == 1
    assert http.get("/admin/invoices", params={"account": "x"}).status_code == 422
    assert http.get("/admin/invoices", params={"status": "lost"}).status_code == 422


def test_routes_are_added_and_removed(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)  # the route only matches this account
    token = _enter(http, dashboard, operator)
    assert 'data-connector="simulator"' in http.get("/admin/connectors").text

    def add(**fields: str) -> httpx.Response:
        return http.post("/admin/routes", data={**fields, "csrf_token": token})

    # The server is shared: once a route exists, a message that matches none is refused, so
    # a catch-all to the simulator (what no routes at all means) stands first and goes last.
    assert add(connectors="simulator", priority="1000000").status_code == 303
    try:
        added = add(connectors="simulator", priority="5", strategy="priority", mcc="",
                    account_id=str(customer.account_id), country="LV")  # fmt: skip
        assert added.status_code == 303, added.text
        with dashboard.db.read() as session:
            routes = list_routes(session)
        mine = next(r for r in routes if r.account_id == customer.account_id)
        assert (mine.country, mine.priority, mine.mcc) == ("LV", 5, None)
        assert f'id="route-{mine.id}"' in http.get("/admin/connectors").text
        details = _audited(dashboard, "route.add", f"route:{mine.id}")["details"]
        assert '"country": "LV"' in details
        bad = add(connectors="simulator", mcc="12x")
        assert bad.status_code == 422 and "mcc" in bad.text
        assert add(connectors="", country="LV").status_code == 422
        assert add(connectors="simulator", strategy="random").status_code == 422
    finally:
        with dashboard.db.read() as session:
            routes = list_routes(session)
        ordered = sorted(routes, key=lambda r: -r.id)  # the catch-all, made first, goes last
        for route in ordered:
            removed = http.post(f"/admin/routes/{route.id}/remove", data={"csrf_token": token})
            assert removed.status_code == 303
    with dashboard.db.read() as session:
        assert list_routes(session) == []
    _audited(dashboard, "route.remove", f"route:{mine.id}")
    again = http.post(f"/admin/routes/{mine.id}/remove", data={"csrf_token": token})
    assert again.status_code == 404


def test_margins_and_the_audit_log_with_filters(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)
    sent = httpx.post(
        f"{dashboard.url}/v1/messages",
        headers=customer.headers,
        json={"to": ["+37120000092", "+37120000093"], "text": "hi", "sender": customer.sender},
    )
    assert sent.status_code == 200, sent.text
    token = _enter(http, dashboard, operator)
    one = http.get("/admin/margins", params={"account": str(customer.account_id)})
    assert one.status_code == 200
    assert re.search(r'id="total-revenue">0\.08<', one.text), one.text.split("<tfoot>")[1]
    by_destination = http.get(
        "/admin/margins", params={"group": "destination", "account": str(customer.account_id)}
    )
    assert "Latvia" in by_destination.text
    old = http.get("/admin/margins", params={"since": "2020-01-01", "until": "2020-01-31"})
    assert "No messages in this range." in old.text
    assert (
        http.get(
            "/admin/margins", params={"since": "2020-02-01", "until": "2020-01-01"}
        ).status_code
        == 422
    )
    assert http.get("/admin/margins", params={"group": "planet"}).status_code == 422
    for n in range(3):
        data = {"amount": "1", "reason": f"audit page {n}", "csrf_token": token}
        http.post(f"/admin/accounts/{customer.account_id}/topup", data=data)
    log = http.get("/admin/audit", params={"action": "account.topup"})
    assert "audit page 2" in log.text and "account.suspend" not in log.text.split("<tbody>")[1]
    with dashboard.db.write() as session:
        for n in range(51):
            record(session, "cli:test", "test.paging", f"thing:{n}")
    first = http.get("/admin/audit", params={"action": "test.paging"})
    assert first.text.count("thing:") == 50 and "thing:50<" in first.text
    older = re.search(r'href="(/admin/audit\?action=test.paging&amp;before=\d+)"', first.text)
    assert older
    rest = http.get(older.group(1).replace("&amp;", "&"))
    assert rest.text.count("thing:") == 1 and "thing:0<" in rest.text
    assert "No entries match." in http.get("/admin/audit", params={"since": "2999-01-01"}).text
    assert http.get("/admin/audit", params={"since": "someday"}).status_code == 422


def test_every_page_renders_in_english_and_russian(
    http: httpx.Client, dashboard: Dashboard, operator: User
) -> None:
    customer = make_customer(dashboard.db)
    with dashboard.db.write() as session:
        request_sender(session, customer.account_id, "RENDERED")
        invoices.create_invoice(
            session, customer.account_id, Decimal(5), settings=dashboard.settings
        )
    paths = [
        "/admin", "/admin/accounts", "/admin/accounts/new",
        f"/admin/accounts/{customer.account_id}", "/admin/plans", "/admin/senders?status=all",
        "/admin/invoices", "/admin/connectors", "/admin/margins?group=destination",
        "/admin/margins?group=connector", "/admin/audit",
    ]  # fmt: skip
    _enter(http, dashboard, operator)
    try:
        for locale, nav in (("en", "Accounts"), ("ru", "Аккаунты")):
            with dashboard.db.write() as session:
                user = find_by_email(session, operator.email)
                assert user is not None
                set_locale(session, user.id, locale)
            for path in paths:
                answer = http.get(path)
                assert answer.status_code == 200, (locale, path, answer.text[:300])
                assert f'<html lang="{locale}">' in answer.text
                assert f'<a href="/admin/accounts">{nav}</a>' in answer.text or (
                    f'aria-current="page">{nav}</a>' in answer.text
                ), (locale, path)
    finally:
        with dashboard.db.write() as session:
            user = find_by_email(session, operator.email)
            assert user is not None
            set_locale(session, user.id, "en")
