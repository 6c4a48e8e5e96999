"""The admin API over real HTTP: who may call it, accounts, suspension and tokens."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
from fastapi.routing import iter_route_contexts

from smsgate.app import create_app
from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.surfaces.test_admin_support import assert_audited, make_operator, ok, problem


def _admin_routes(settings: Settings) -> list[tuple[str, str]]:
    """Every (method, path) of the app under /v1/admin, path parameters set to 1."""
    app = create_app(settings, dispatch=False)
    try:
        # app.routes holds included routers as branches; iter_route_contexts flattens them
        return [
            (method, re.sub(r"\{[^}]+\}", "1", route.path))
            for route in iter_route_contexts(app.routes)
            if route.path and route.path.startswith("/v1/admin")
            for method in sorted(route.methods or ())
        ]
    finally:
        app.state.runtime.db.dispose()


def test_every_admin_route_needs_an_operator_token(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    routes = _admin_routes(settings)
    assert len(routes) >= 30, routes
    customer = make_customer(db)
    op = make_operator(db)
    for method, path in routes:
        problem(client.request(method, path, headers=customer.headers), 403, "operator_only")
        problem(client.request(method, path), 401, "unauthenticated")
    # and the operator gets past the gate on each of them (to a real answer or a 4xx of its own)
    for method, path in routes:
        answer = client.request(method, path, headers=op.headers)
        assert answer.status_code not in (401, 403, 500), (method, path, answer.text)
    # an operator token is still no customer token
    problem(client.get("/v1/balance", headers=op.headers), 403, "customer_only")


def test_create_list_read_and_change_accounts(
    db: Database, client: httpx.Client, plan: str
) -> None:
    op = make_operator(db)
    made = ok(
        client.post(
            "/v1/admin/accounts",
            headers=op.headers,
            json={
                "name": "Globex",
                "currency": "usd",
                "plan": plan,
                "balance": "25.50",
                "tax_rate": "0.2",
                "timezone": "Europe/Riga",
                "email": "billing@globex.example",
            },
        ),
        201,
    )
    account = made["account"]
    assert account["currency"] == "USD" and account["plan"] == plan
    assert account["balances"] == {"sms": "25.50", "viber": "0.00"}
    assert account["tax_rate"] == "0.20" and account["status"] == "active"
    secret = made["token"]["token"]
    assert secret.startswith("sg_") and made["token"]["prefix"] == secret[:10]
    headers = {"Authorization": f"Bearer {secret}"}
    assert ok(client.get("/v1/balance", headers=headers))["balance"] == "25.50"
    account_id = account["id"]
    assert_audited(db, op, "account.create", f"account:{account_id}")
    assert_audited(db, op, "token.create", f"token:{made['token']['id']}")

    make_customer(db, name="Initech")
    page = ok(client.get("/v1/admin/accounts", headers=op.headers, params={"limit": 1}))
    assert page["total"] == 2 and len(page["accounts"]) == 1
    second = ok(
        client.get("/v1/admin/accounts", headers=op.headers, params={"limit": 1, "offset": 1})
    )
    assert {page["accounts"][0]["name"], second["accounts"][0]["name"]} == {"Globex", "Initech"}
    found = ok(client.get("/v1/admin/accounts", headers=op.headers, params={"q": "globex"}))
    assert [a["id"] for a in found["accounts"]] == [account_id]

    changed = ok(
        client.patch(
            f"/v1/admin/accounts/{account_id}",
            headers=op.headers,
            json={
                "tax_rate": "0.21",
                "credit_limit": "5",
                "timezone": "Asia/Tashkent",
                "refund_undeliverable": True,
                "language": "ru",
                "billing_details": "Globex LLC\nRiga",
                "plan": None,
            },
        )
    )
    assert changed["tax_rate"] == "0.21" and changed["credit_limit"] == "5.00"
    assert changed["timezone"] == "Asia/Tashkent" and changed["refund_undeliverable"] is True
    assert changed["language"] == "ru" and changed["plan"] is None
    assert changed == ok(client.get(f"/v1/admin/accounts/{account_id}", headers=op.headers))
    target = f"account:{account_id}"
    tax = assert_audited(db, op, "account.set_tax_rate", target)
    assert json.loads(tax.details) == {"tax_rate": "0.21", "previous": "0.20"}
    for action in (
        "account.set_credit_limit",
        "account.set_timezone",
        "account.set_refund_policy",
        "account.set_details",
        "account.set_plan",
    ):
        assert_audited(db, op, action, target)
    back = ok(
        client.patch(
            f"/v1/admin/accounts/{account_id}",
            headers=op.headers,
            json={"refund_undeliverable": None, "plan": plan},
        )
    )
    assert back["refund_undeliverable"] is None and back["plan"] == plan


def test_account_changes_are_checked_all_or_nothing(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    c = make_customer(db)
    url = f"/v1/admin/accounts/{c.account_id}"
    problem(client.patch(url, headers=op.headers, json={"plan": "nope"}), 404, "plan_not_found")
    problem(client.patch(url, headers=op.headers, json={"tax_rate": "1.5"}), 422, "invalid_request")
    problem(client.patch(url, headers=op.headers, json={"status": None}), 422, "invalid_request")
    problem(client.patch(url, headers=op.headers, json={"status": "gone"}), 422, "invalid_request")
    problem(client.patch(url, headers=op.headers, json={"colour": "red"}), 422, "invalid_request")
    problem(
        client.patch(url, headers=op.headers, json={"timezone": "Mars/Base"}),
        422,
        "invalid_request",
    )
    problem(client.patch(url, headers=op.headers, json={"email": "no"}), 422, "invalid_request")
    problem(
        client.patch(url, headers=op.headers, json={"credit_limit": "-1"}), 422, "invalid_request"
    )
    problem(
        client.patch(url, headers=op.headers, json={"currency": "USD"}),
        422,
        "currency_change_refused",
    )
    # the good change before the bad one is rolled back with it
    problem(
        client.patch(url, headers=op.headers, json={"tax_rate": "0.1", "currency": "USD"}),
        422,
        "currency_change_refused",
    )
    problem(
        client.patch("/v1/admin/accounts/999999", headers=op.headers, json={}),
        404,
        "account_not_found",
    )
    problem(client.get("/v1/admin/accounts/999999", headers=op.headers), 404, "account_not_found")
    problem(
        client.post("/v1/admin/accounts", headers=op.headers, json={"name": "X", "plan": "nope"}),
        404,
        "plan_not_found",
    )
    problem(
        client.post(
            "/v1/admin/accounts", headers=op.headers, json={"name": "X", "balance": "1e400"}
        ),
        422,
        "invalid_request",
    )
    account = ok(client.get(url, headers=op.headers))
    assert account["tax_rate"] == "0.00" and account["currency"] == "EUR"
    # with the money taken out, the currency may change
    ok(
        client.post(
            f"{url}/adjustments",
            headers=op.headers,
            json={"amount": "-10", "reason": "move to USD"},
        ),
        201,
    )
    assert ok(client.patch(url, headers=op.headers, json={"currency": "usd"}))["currency"] == "USD"


def test_suspension_stops_the_customer_at_once(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    c = make_customer(db)
    assert client.get("/v1/balance", headers=c.headers).status_code == 200  # now cached
    url = f"/v1/admin/accounts/{c.account_id}"
    assert ok(client.patch(url, headers=op.headers, json={"status": "suspended"}))["status"] == (
        "suspended"
    )
    problem(client.get("/v1/balance", headers=c.headers), 403, "account_suspended")
    send = {"to": "+37126123456", "text": "hi", "sender": c.sender}
    problem(client.post("/v1/messages", headers=c.headers, json=send), 403, "account_suspended")
    assert_audited(db, op, "account.suspend", f"account:{c.account_id}")
    listed = ok(
        client.get("/v1/admin/accounts", headers=op.headers, params={"status": "suspended"})
    )
    assert [a["id"] for a in listed["accounts"]] == [c.account_id]

    ok(client.patch(url, headers=op.headers, json={"status": "active"}))
    assert client.get("/v1/balance", headers=c.headers).status_code == 200
    assert client.post("/v1/messages", headers=c.headers, json=send).status_code == 200
    assert_audited(db, op, "account.activate", f"account:{c.account_id}")


def test_tokens_are_shown_once_listed_without_secrets_and_revoked(
    db: Database, client: httpx.Client
) -> None:
    op = make_operator(db)
    c = make_customer(db)
    made = ok(
        client.post(
            f"/v1/admin/accounts/{c.account_id}/tokens", headers=op.headers, json={"name": "ci"}
        ),
        201,
    )
    secret = made["token"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/balance", headers=headers).status_code == 200
    listed = ok(client.get(f"/v1/admin/accounts/{c.account_id}/tokens", headers=op.headers))
    assert listed["total"] == 2
    assert listed["tokens"][0]["id"] == made["id"] and listed["tokens"][0]["name"] == "ci"
    text = json.dumps(listed)
    assert secret not in text and "hash" not in text and "token_hash" not in text
    assert all(
        set(t)
        == {
            "id",
            "account_id",
            "scope",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        }
        for t in listed["tokens"]
    )

    revoked = ok(client.delete(f"/v1/admin/tokens/{made['id']}", headers=op.headers))
    assert revoked["revoked_at"] is not None
    problem(client.get("/v1/balance", headers=headers), 401, "unauthenticated")
    problem(
        client.delete(f"/v1/admin/tokens/{made['id']}", headers=op.headers), 404, "token_not_found"
    )
    assert client.get("/v1/balance", headers=c.headers).status_code == 200  # the other one
    assert_audited(db, op, "token.create", f"token:{made['id']}")
    revoke = assert_audited(db, op, "token.revoke", f"token:{made['id']}")
    assert secret not in revoke.details

    second = ok(
        client.post("/v1/admin/operator-tokens", headers=op.headers, json={"name": "b"}), 201
    )
    assert second["scope"] == "operator" and second["account_id"] is None
    other = {"Authorization": f"Bearer {second['token']}"}
    assert client.get("/v1/admin/plans", headers=other).status_code == 200
    operators = ok(client.get("/v1/admin/operator-tokens", headers=op.headers))
    assert {t["id"] for t in operators["tokens"]} == {op.token_id, second["id"]}
    assert_audited(db, op, "token.create", f"token:{second['id']}")
    ok(client.delete(f"/v1/admin/tokens/{second['id']}", headers=op.headers))
    problem(client.get("/v1/admin/plans", headers=other), 401, "unauthenticated")
    problem(
        client.post("/v1/admin/accounts/999999/tokens", headers=op.headers),
        404,
        "account_not_found",
    )
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("10")
