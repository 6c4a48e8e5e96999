"""The devsms.uz surface over real HTTP, called the way seed 002's examples call it."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from smsgate.accounts.models import Account, AccountStatus, TokenScope
from smsgate.accounts.service import create_token
from smsgate.app import create_app
from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.messaging import queries
from smsgate.messaging.status import MessageStatus
from smsgate.surfaces import devsms, safety
from tests.support.factories import Customer, make_customer, make_plan
from tests.support.server import running_server
from tests.support.waiting import wait_for

PHONE = "998901234567"
REJECTED_PHONE = "998901111111"  # the simulator refuses it on submit
UNDELIVERABLE_PHONE = "998902222222"  # the simulator reports it undeliverable
SEND = "/api/send_sms.php"
PHP_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "simulator_rejected": f"^{REJECTED_PHONE}$",
            "simulator_undeliverable": f"^{UNDELIVERABLE_PHONE}$",
        }
    )


def _uz(db: Database, **kwargs: Any) -> Customer:
    """A customer whose approved sender is devsms.uz's default, 4546."""
    return make_customer(db, sender="4546", **kwargs)


def _send(client: httpx.Client, c: Customer, **body: object) -> httpx.Response:
    return client.post(SEND, headers=c.headers, json={"phone": PHONE, "message": "x", **body})


def _ok(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["success"] is True
    return body


def _error(answer: httpx.Response, status: int, *words: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word.lower() in body["error"].lower(), body["error"]
    return str(body["error"])


def _status(client: httpx.Client, c: Customer, **params: object) -> dict[str, object]:
    data = _ok(client.get("/api/get_status.php", headers=c.headers, params=params))["data"]
    assert isinstance(data, dict)
    return data


def _history(client: httpx.Client, c: Customer, **params: object) -> list[dict[str, object]]:
    body = _ok(client.get("/api/get_history.php", headers=c.headers, params=params))
    assert isinstance(body["data"], list)
    assert body["count"] == len(body["data"])
    return body["data"]


def _ledger_agrees(db: Database, account_id: int, answered: object) -> None:
    with db.read() as session:
        balance = ledger.balance(session, account_id)
        assert balance == ledger.entries_total(session, account_id)
    assert Decimal(str(answered)) == balance


def test_send_as_the_seed_curl_does_then_follow_to_delivered(
    db: Database, client: httpx.Client
) -> None:
    c = _uz(db, balance=Decimal("10"))
    answer = client.post(
        SEND,
        headers={**c.headers, "Content-Type": "application/json"},
        content=b'{\n"phone": "998901234567",\n"message": "Test SMS"\n}',
    )
    body = _ok(answer)
    data = body["data"]
    assert isinstance(data, dict)
    assert body["message"] == "SMS muvaffaqiyatli yuborildi"
    assert list(data) == [
        "sms_id",
        "request_id",
        "status",
        "parts_count",
        "total_cost",
        "balance",
    ]
    assert isinstance(data["sms_id"], int)
    assert data["status"] == "waiting" and data["parts_count"] == 1
    # money as JSON numbers with their exact digits, never strings
    assert b'"total_cost":0.05,' in answer.content and b'"balance":9.95}' in answer.content
    _ledger_agrees(db, c.account_id, data["balance"])

    by_id = wait_for(
        lambda: (s := _status(client, c, sms_id=data["sms_id"]))["status"] == "DELIVERED" and s
    )
    assert by_id["request_id"] == data["request_id"]
    assert by_id["phone"] == PHONE and by_id["message"] == "Test SMS" and by_id["from"] == "4546"
    assert by_id["parts_count"] == 1 and by_id["total_cost"] == 0.05
    assert PHP_TIME.match(str(by_id["created_at"])) and PHP_TIME.match(str(by_id["done_at"]))
    assert _status(client, c, request_id=data["request_id"]) == by_id
    with db.read() as session:
        stored = queries.get_message(session, c.account_id, int(str(data["sms_id"])))
    assert stored.surface == "devsms" and stored.sender == "4546"


def test_form_multipart_query_and_headerless_json_bodies(
    db: Database, client: httpx.Client
) -> None:
    c = _uz(db, balance=Decimal("10"))
    c_name = make_customer(db, sender="MyShop", name="Shop")
    form = client.post(
        SEND,
        headers=c_name.headers,
        data={"phone": "998935550001", "message": "form", "from": "MyShop"},
    )
    multipart = client.post(
        SEND,
        headers=c.headers,
        files={"phone": (None, "998971234567"), "message": (None, "Салом")},
    )
    # `curl -d '{...}'` without a JSON Content-Type says application/x-www-form-urlencoded
    headerless = client.post(
        SEND,
        headers={**c.headers, "Content-Type": "application/x-www-form-urlencoded"},
        content=b'{"phone": 998901234567, "message": "headerless", "from": 4546}',
    )
    query = client.post(SEND, headers=c.headers, params={"phone": PHONE, "message": "query"})
    unknown = _send(client, c, type="eskiz", some_new_field=[1, 2])
    for answer in (form, multipart, headerless, query, unknown):
        _ok(answer)
    sent = {row["message"]: row for row in _history(client, c)}
    assert set(sent) == {"Салом", "headerless", "query", "x"}
    assert sent["Салом"]["phone"] == "998971234567"
    assert sent["headerless"]["phone"] == PHONE and sent["headerless"]["from"] == "4546"
    shop = _history(client, c_name)
    assert [(r["message"], r["from"], r["phone"]) for r in shop] == [
        ("form", "MyShop", "998935550001")
    ]
    # the read scripts take POST bodies too
    by_post = client.post(
        "/api/get_status.php", headers=c_name.headers, data={"sms_id": str(shop[0]["sms_id"])}
    )
    # the simulator may deliver between the two reads: compare everything but the progress
    moving = {"status", "sent_at", "done_at", "error_code"}
    assert {k: v for k, v in _ok(by_post)["data"].items() if k not in moving} == {
        k: v for k, v in shop[0].items() if k not in moving
    }
    posted = client.post("/api/get_history.php", headers=c.headers, json={"limit": 1})
    assert _ok(posted)["count"] == 1


def test_callback_url_is_stored(db: Database, client: httpx.Client) -> None:
    c = _uz(db)
    data = _ok(_send(client, c, callback_url="https://shop.example/sms-status"))["data"]
    assert isinstance(data, dict)
    with db.read() as session:
        stored = queries.get_message(session, c.account_id, int(str(data["sms_id"])))
    assert stored.callback_url == "https://shop.example/sms-status"
    _error(_send(client, c, callback_url="ftp://nowhere"), 400, "callback_url")


def test_history_with_each_status_filter(db: Database, client: httpx.Client) -> None:
    c = _uz(db, balance=Decimal("10"))
    ids: dict[str, int] = {}
    for name, phone in (
        ("delivered", PHONE),
        ("rejected", REJECTED_PHONE),
        ("undeliverable", UNDELIVERABLE_PHONE),
    ):
        data = _ok(_send(client, c, phone=phone, message=name))["data"]
        assert isinstance(data, dict)
        ids[name] = int(str(data["sms_id"]))
    # the same core behind /v1: a scheduled message waits, a cancelled one is REJECTED
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    scheduled = client.post(
        "/v1/messages",
        headers=c.headers,
        json={"to": PHONE, "text": "scheduled", "sender": "4546", "scheduled_at": later},
    )
    assert scheduled.status_code == 200, scheduled.text
    cancel = client.post(
        "/v1/sendings",
        headers=c.headers,
        json={"recipients": [PHONE], "text": "cancelled", "sender": "4546", "scheduled_at": later},
    )
    assert cancel.status_code == 201, cancel.text
    assert client.post(f"/v1/sendings/{cancel.json()['id']}/cancel", headers=c.headers).is_success
    wait_for(
        lambda: (
            {r["status"] for r in _history(client, c, limit=3, offset=2)}
            == {"DELIVERED", "REJECTED", "UNDELIVERABLE"}
        )
    )

    def texts(status: str) -> list[object]:
        return [row["message"] for row in _history(client, c, status=status)]

    assert texts("waiting") == ["scheduled"]
    assert texts("DELIVERED") == ["delivered"]
    assert texts("REJECTED") == ["cancelled", "rejected"]
    assert texts("UNDELIVERABLE") == ["undeliverable"]
    assert texts("ACCEPTED") == []
    assert texts("delivered") == ["delivered"]  # any case
    assert len(_history(client, c)) == len(_history(client, c, status="")) == 5
    rejected = _status(client, c, sms_id=ids["rejected"])
    assert rejected["total_cost"] == 0 and rejected["error_code"] == "simulated_reject"
    page = [row["message"] for row in _history(client, c, limit=2, offset=1)]
    assert page == ["scheduled", "undeliverable"]  # newest first
    _error(
        client.get("/api/get_history.php", headers=c.headers, params={"status": "sent"}),
        400,
        "status",
    )


def test_accepted_while_the_receipt_is_pending(db: Database, settings: Settings, plan: str) -> None:
    c = _uz(db)
    slow = settings.model_copy(update={"simulator_delay": 60.0})
    with running_server(slow) as url, httpx.Client(base_url=url, timeout=30) as http:
        data = _ok(_send(http, c))["data"]
        assert isinstance(data, dict)
        wait_for(lambda: _status(http, c, sms_id=data["sms_id"])["status"] == "ACCEPTED")
        assert [r["sms_id"] for r in _history(http, c, status="ACCEPTED")] == [data["sms_id"]]
        assert _history(http, c, status="waiting") == []


def test_history_limit_is_capped_at_200(db: Database, client: httpx.Client) -> None:
    c = _uz(db, balance=Decimal("20"))
    phones = [f"99890{n:07d}" for n in range(205)]
    bulk = client.post(
        "/v1/messages", headers=c.headers, json={"to": phones, "text": "bulk", "sender": "4546"}
    )
    assert bulk.status_code == 200, bulk.text
    assert len(_history(client, c)) == 50
    for asked in (200, 201, 1000):
        body = _ok(client.get("/api/get_history.php", headers=c.headers, params={"limit": asked}))
        assert body["limit"] == 200 and len(body["data"]) == 200  # type: ignore[arg-type]
    assert len(_history(client, c, limit=500, offset=200)) == 5
    assert _history(client, c, limit=10, offset=205) == []


def test_balance_statistics_after_sends(db: Database, client: httpx.Client) -> None:
    c = _uz(db, balance=Decimal("10"), timezone="Asia/Tashkent")
    answered = _ok(client.get("/api/get_balance.php", headers=c.headers))["data"]
    assert answered == {
        "balance": 10,
        "sms_price": 0.05,
        "statistics": {
            "total_sms": 0,
            "total_spent": 0,
            "today_sms": 0,
            "today_spent": 0,
            "month_sms": 0,
            "month_spent": 0,
        },
    }
    _ok(_send(client, c))
    last = _ok(_send(client, c, message="y" * 200))["data"]  # two parts
    assert isinstance(last, dict) and last["parts_count"] == 2 and last["total_cost"] == 0.1
    rejected = _ok(_send(client, c, phone=REJECTED_PHONE))["data"]
    assert isinstance(rejected, dict)
    wait_for(lambda: _status(client, c, sms_id=rejected["sms_id"])["status"] == "REJECTED")
    answer = client.get("/api/get_balance.php", headers=c.headers)
    data = _ok(answer)["data"]
    assert isinstance(data, dict)
    assert data["balance"] == 9.85 and b'"balance":9.85,' in answer.content
    assert data["statistics"] == {
        "total_sms": 3,
        "total_spent": 0.15,  # the rejected message was refunded
        "today_sms": 3,
        "today_spent": 0.15,
        "month_sms": 3,
        "month_spent": 0.15,
    }
    _ledger_agrees(db, c.account_id, data["balance"])


def test_sms_price_includes_tax_and_falls_back_to_the_catch_all(
    db: Database, client: httpx.Client
) -> None:
    taxed = _uz(db, tax_rate=Decimal("0.12"), name="Taxed")
    make_plan(db, "flat", "mcc,mnc,country,network,price\n*,,Any,,0.02\n")
    make_plan(db, "latvia", "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n")
    flat = make_customer(db, plan="flat", name="Flat")
    latvia = make_customer(db, plan="latvia", name="Latvia")
    no_plan = make_customer(db, plan=None, name="None")

    def price(c: Customer) -> object:
        data = _ok(client.get("/api/get_balance.php", headers=c.headers))["data"]
        assert isinstance(data, dict)
        return data["sms_price"]

    assert price(taxed) == 0.056
    assert price(flat) == 0.02
    assert price(latvia) is None and price(no_plan) is None


def test_status_times_are_in_the_account_zone(db: Database, client: httpx.Client) -> None:
    c = _uz(db, timezone="Asia/Tashkent")
    data = _ok(_send(client, c))["data"]
    assert isinstance(data, dict)
    row = _status(client, c, sms_id=data["sms_id"])
    with db.read() as session:
        created = queries.get_message(session, c.account_id, int(str(data["sms_id"]))).created_at
    local = created.astimezone(ZoneInfo("Asia/Tashkent")).strftime("%Y-%m-%d %H:%M:%S")
    assert row["created_at"] == local


def test_charge_and_ledger_agree_and_idempotent_retry(db: Database, client: httpx.Client) -> None:
    c = _uz(db, balance=Decimal("1"), tax_rate=Decimal("0.12"))
    h = {**c.headers, "Idempotency-Key": "otp-77"}
    first = client.post(SEND, headers=h, json={"phone": PHONE, "message": "code 1234"})
    again = client.post(SEND, headers=h, json={"phone": PHONE, "message": "code 1234"})
    assert _ok(first) == _ok(again) and again.headers["idempotent-replayed"] == "true"
    data = _ok(first)["data"]
    assert isinstance(data, dict)
    assert data["total_cost"] == 0.056 and data["balance"] == 0.944
    _ledger_agrees(db, c.account_id, data["balance"])
    _error(client.post(SEND, headers=h, json={"phone": PHONE, "message": "other"}), 400)
    with db.read() as session:
        entries = ledger.list_entries(session, c.account_id, limit=10)
    assert [e.entry_type for e in entries] == ["charge", "topup"]


def test_errors_in_the_seed_shape(db: Database, client: httpx.Client) -> None:
    c = _uz(db, balance=Decimal("1"))
    h = {**c.headers, "Content-Type": "application/json"}
    # 400: malformed bodies, wrong types, missing fields, bad values
    _error(client.post(SEND, headers=h, content=b"{not json"), 400, "json")
    _error(client.post(SEND, headers=h, content=b""), 400, "json")
    _error(client.post(SEND, headers=h, content=b"[1, 2]"), 400)
    _error(client.post(SEND, headers=h, content="\ud800".encode("utf-8", "surrogatepass")), 400)
    _error(_send(client, c, phone=["998901234567"]), 400, "phone")
    _error(_send(client, c, message=5), 400, "message")
    _error(client.post(SEND, headers=c.headers, json={"message": "x"}), 400, "phone")
    _error(client.post(SEND, headers=c.headers, json={"phone": PHONE}), 400, "message")
    _error(client.post(SEND, headers=c.headers, data={"phone": PHONE}), 400, "message")
    _error(_send(client, c, phone="12"), 400, "phone")
    _error(_send(client, c, message=""), 400, "empty")
    _error(_send(client, c, message="x" * 1600), 400, "parts")
    _error(_send(client, c, **{"from": "NOTMINE"}), 400, "sender")
    _error(_send(client, c, type="universal_otp", otp_code="5678"), 400, "type")
    _error(client.get("/api/get_status.php", headers=c.headers), 400, "sms_id")
    _error(client.get("/api/get_status.php", headers=c.headers, params={"sms_id": "x"}), 400)
    _error(client.get("/api/get_history.php", headers=c.headers, params={"limit": "0"}), 400)
    _error(client.get("/api/get_history.php", headers=c.headers, params={"offset": "-1"}), 400)
    # insufficient balance: 400, a text clients match on ("balance"), nothing charged
    poor = _uz(db, balance=Decimal("0.05"), name="Poor")
    _error(_send(client, poor, message="x" * 200), 400, "balance")
    with db.read() as session:
        assert ledger.balance(session, poor.account_id) == Decimal("0.05")
    assert _history(client, poor) == [] and _history(client, c) == []
    # 401
    _error(client.get("/api/get_balance.php"), 401, "token")
    _error(client.post(SEND, json={"phone": PHONE, "message": "x"}), 401, "token")
    bad = {"Authorization": "Bearer nope"}
    _error(client.get("/api/get_history.php", headers=bad), 401, "token")
    # 404: an unknown script, an unknown id
    _error(client.get("/api/get_nothing.php", headers=c.headers), 404)
    _error(client.get("/api/get_status.php", headers=c.headers, params={"sms_id": 999999}), 404)
    _error(
        client.get("/api/get_status.php", headers=c.headers, params={"request_id": "uuid-here"}),
        404,
    )
    # 405: a send must be a POST
    _error(client.get(SEND, headers=c.headers), 405)


def test_forbidden_for_operators_and_suspended_accounts(db: Database, client: httpx.Client) -> None:
    c = _uz(db)
    with db.write() as session:
        _, operator = create_token(session, None, scope=TokenScope.OPERATOR)
    op = {"Authorization": f"Bearer {operator}"}
    _error(client.get("/api/get_balance.php", headers=op), 403, "customer")
    _error(client.post(SEND, headers=op, json={"phone": PHONE, "message": "x"}), 403)
    # no service suspends an account yet, so the test sets the status itself
    with db.write() as session:
        account = session.get(Account, c.account_id)
        assert account is not None
        account.status = AccountStatus.SUSPENDED
    _error(_send(client, c), 403, "suspended")
    _error(client.get("/api/get_balance.php", headers=c.headers), 403, "suspended")


def test_unexpected_errors_are_500_in_the_seed_shape(
    db: Database, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _uz(db)
    logged: list[dict[str, object]] = []

    class Log:  # stands in for the app's logger: the console renderer's traceback is slow
        def exception(self, event: str, **kw: object) -> None:
            logged.append({"event": event, **kw})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(safety, "log", Log())
    monkeypatch.setattr(devsms.queries, "statistics", broken)
    message = _error(client.get("/api/get_balance.php", headers=c.headers), 500)
    assert "boom" not in message
    assert logged == [{"event": "unexpected error", "path": "/api/get_balance.php"}]
    # the keep-alive connection survives the 500
    assert client.get("/status").json() == ["OK"]


def test_tenant_isolation(db: Database, client: httpx.Client) -> None:
    alice = _uz(db, name="Alice")
    bob = _uz(db, name="Bob")
    data = _ok(_send(client, alice))["data"]
    assert isinstance(data, dict)
    assert _status(client, alice, sms_id=data["sms_id"])["sms_id"] == data["sms_id"]
    for params in ({"sms_id": data["sms_id"]}, {"request_id": data["request_id"]}):
        _error(client.get("/api/get_status.php", headers=bob.headers, params=params), 404)
    assert _history(client, bob) == []
    bob_balance: Any = _ok(client.get("/api/get_balance.php", headers=bob.headers))["data"]
    assert bob_balance["balance"] == 10 and bob_balance["statistics"]["total_sms"] == 0


def test_status_vocabulary_covers_every_canonical_status() -> None:
    assert set(devsms.STATUSES) == set(MessageStatus)
    assert set(devsms.STATUSES.values()) == {
        "waiting",
        "ACCEPTED",
        "DELIVERED",
        "REJECTED",
        "UNDELIVERABLE",
    }


def test_paths_it_owns_and_its_openapi(settings: Settings) -> None:
    assert devsms.owns("/api/send_sms.php") and devsms.owns("/api/anything.php")
    assert not devsms.owns("/api/v1/sendSms") and not devsms.owns("/api/v1/x.php")
    assert not devsms.owns("/v1/messages")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = create_app(settings).openapi()
    assert not [w for w in caught if "devsms" in str(w.message)]
    php = {path: set(ops) for path, ops in spec["paths"].items() if path.endswith(".php")}
    assert php == {
        "/api/send_sms.php": {"post"},
        "/api/get_history.php": {"get"},
        "/api/get_balance.php": {"get"},
        "/api/get_status.php": {"get"},
    }
    body = spec["paths"]["/api/send_sms.php"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["required"] == ["phone", "message"]
