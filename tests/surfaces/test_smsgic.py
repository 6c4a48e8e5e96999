"""The SMSgic surface over real HTTP, called as seed 001's examples call it."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from smsgate.accounts import admin
from smsgate.accounts.models import TokenScope
from smsgate.accounts.service import create_account, create_token
from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.senders.service import request_sender
from tests.support.factories import Customer, make_customer
from tests.support.server import running_server
from tests.support.waiting import wait_for

# Every seed example sends these two headers.
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
MISSING_MESSAGE = "Please send `message` post parameter with text for SMS"
MISSING_RECIPIENTS = "Please send `recipients` post parameter with recipient`s number"
MISSING_SENDER = "Please send `sender` post parameter with name of SMS sender"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$")
LOCAL = "%Y-%m-%d %H:%M:%S"
LMT, TELE2, TDC, TDC_2 = "37126123456", "37120000000", "4520123456", "4520123457"


def _customer(
    db: Database,
    *,
    currency: str = "EUR",
    balance: Decimal = Decimal("10"),
    timezone: str = "UTC",
    tax_rate: Decimal = Decimal(0),
    name: str = "Acme",
) -> Customer:
    with db.write() as session:
        account = create_account(
            session,
            name,
            currency=currency,
            balance=balance,
            plan="standard",
            timezone=timezone,
            tax_rate=tax_rate,
        )
        request_sender(session, account.id, "ACME", approved=True)
        _, token = create_token(session, account.id)
    return Customer(account.id, token, "ACME")


def _h(c: Customer) -> dict[str, str]:
    return {**c.headers, **JSON_HEADERS}


def _exact(answer: httpx.Response, status: int, body: object) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == body


def _balance(db: Database, c: Customer) -> Decimal:
    with db.read() as session:
        return ledger.balance(session, c.account_id)


def test_auth_errors_are_laravels(db: Database, client: httpx.Client) -> None:
    _exact(client.get("/status"), 200, ["OK"])
    calls = [
        ("GET", "/balance"),
        ("GET", "/senders"),
        ("GET", "/rates"),
        ("POST", "/sendings/calculate"),
        ("GET", "/sendings"),
        ("POST", "/sendings"),
        ("GET", "/sendings/301"),
    ]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            answer = client.request(method, path, headers={**headers, **JSON_HEADERS})
            _exact(answer, 401, {"message": "Unauthenticated."})
    c = _customer(db)
    with db.write() as session:
        admin.suspend(session, c.account_id, actor="test")
    _exact(client.get("/balance", headers=_h(c)), 403, {"message": "The account is suspended."})
    with db.write() as session:
        _, operator = create_token(session, None, scope=TokenScope.OPERATOR)
    _exact(
        client.get("/balance", headers={"Authorization": f"Bearer {operator}"}),
        403,
        {"message": "This route needs a customer token."},
    )


def test_balance_and_senders(db: Database, client: httpx.Client) -> None:
    gbp = _customer(db, currency="GBP", balance=Decimal("450"))
    answer = client.get("/balance", headers=_h(gbp))
    _exact(answer, 200, {"balance": "450.000", "sign": "£", "code": "GBP"})
    # Laravel's JsonResponse escapes non-ASCII; the key order is the seed's.
    assert answer.content == b'{"balance":"450.000","sign":"\\u00a3","code":"GBP"}'
    chf = _customer(db, currency="CHF", balance=Decimal("0.0456"), name="Swiss")
    _exact(
        client.get("/balance", headers=_h(chf)),
        200,
        {"balance": "0.046", "sign": "CHF", "code": "CHF"},
    )

    with db.write() as session:
        mega_id = request_sender(session, gbp.account_id, "MegaShop", approved=True).id
        request_sender(session, gbp.account_id, "PENDING")
        request_sender(session, chf.account_id, "OTHERS", approved=True)
        acme_id = request_sender(session, gbp.account_id, "ACME").id
    _exact(
        client.get("/senders", headers=_h(gbp)),
        200,
        {"senders": [{"id": acme_id, "sender": "ACME"}, {"id": mega_id, "sender": "MegaShop"}]},
    )


def _raw_get(server: str, target: str, headers: dict[str, str]) -> tuple[int, object]:
    """A request line sent as curl sends it, with no percent-encoding of the query."""
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", target, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def _rates(*rows: tuple[str, str | None, str, float]) -> dict[str, object]:
    return {"rates": [{"mcc": a, "mnc": b, "country": c, "rate": d} for a, b, c, d in rows]}


def test_rates_filters_from_query_or_json(db: Database, server: str, client: httpx.Client) -> None:
    c = _customer(db)
    latvia = _rates(("247", None, "Latvia", 0.04), ("247", "01", "Latvia", 0.03))
    answer = client.get("/rates", headers=_h(c))
    assert answer.status_code == 200
    assert len(answer.json()["rates"]) == 6
    assert b'"rate":0.045' in answer.content  # a JSON number with its exact digits

    # the seed's call: `curl -G -d '{"mcc":"742",...}'` puts the JSON itself in the query
    seed = '{"mcc":"742","mnc":"551","country":"Latvia","country_id":1}'
    assert _raw_get(server, f"/rates?{seed}", _h(c)) == (200, {"rates": []})
    assert _raw_get(server, '/rates?{"mcc":"247","country_id":371}', _h(c)) == (200, latvia)
    _exact(client.get(f"/rates?{seed}", headers=_h(c)), 200, {"rates": []})
    # a JSON body on a GET (Postman, Guzzle's `json` option)
    body = json.dumps({"mcc": "247", "mnc": "01"})
    _exact(
        client.request("GET", "/rates", headers=_h(c), content=body),
        200,
        _rates(("247", "01", "Latvia", 0.03)),
    )
    for params, expected in [
        ({"mcc": "247", "mnc": "null"}, _rates(("247", None, "Latvia", 0.04))),
        ({"mcc": 247, "mnc": "'null'"}, _rates(("247", None, "Latvia", 0.04))),
        ({"country": "latv"}, latvia),
        ({"country_id": 371}, latvia),
        ({"country_id": "45"}, _rates(("238", None, "Denmark", 0.045))),
        ({"country": "Latvia", "country_id": 45}, {"rates": []}),
        ({"mcc": "247", "mnc": ""}, latvia),
    ]:
        _exact(client.get("/rates", headers=_h(c), params=params), 200, expected)
        # the same filters in a JSON body win over the query string
        _exact(
            client.request(
                "GET", "/rates?mcc=999", headers=_h(c), content=json.dumps(params).encode()
            ),
            200,
            expected if "mcc" in params else {"rates": []},
        )

    required = "The mcc field is required when mnc is present."
    for params, errors in [
        ({"mnc": "01"}, {"mcc": [required]}),
        ({"mcc": "74"}, {"mcc": ["The mcc format is invalid (three digits expected)."]}),
        (
            {"mcc": "247", "mnc": "1234"},
            {"mnc": ["The mnc format is invalid (up to three digits, or null)."]},
        ),
        (
            {"country_id": "one"},
            {"country_id": ["The country id must be an integer (a calling code)."]},
        ),
        ({"country_id": "999"}, {"country_id": ["The selected country id is invalid."]}),
    ]:
        (message,) = next(iter(errors.values()))
        _exact(
            client.get("/rates", headers=_h(c), params=params),
            422,
            {"message": message, "errors": errors},
        )
    _exact(
        client.get("/rates", headers=_h(c), params={"mnc": "x"}),
        422,
        {
            "message": "The given data was invalid.",
            "errors": {
                "mnc": ["The mnc format is invalid (up to three digits, or null)."],
                "mcc": [required],
            },
        },
    )
    _exact(
        client.request("GET", "/rates", headers=_h(c), content=b'{"mcc": [1]}'),
        422,
        {"message": "The mcc must be a string.", "errors": {"mcc": ["The mcc must be a string."]}},
    )
    bad_json = "The query string is not valid JSON."
    _exact(
        client.get('/rates?{"mcc":', headers=_h(c)),
        422,
        {"message": bad_json, "errors": {"body": [bad_json]}},
    )


def _calculate(client: httpx.Client, c: Customer, body: object) -> httpx.Response:
    return client.post("/sendings/calculate", headers=_h(c), json=body)


def test_calculate(db: Database, client: httpx.Client) -> None:
    c = _customer(db, tax_rate=Decimal("0.21"))
    text = "x" * 161  # two parts
    answer = _calculate(client, c, {"message": text, "recipients": [LMT, TELE2, TDC, TDC_2]})

    def line(name: str, numbers: list[int], rate: float, each: float, total: float) -> object:
        return {
            "numbers": [
                {"phone_number": n, "destination": name, "sms": 2, "rate": rate, "total": each}
                for n in numbers
            ],
            "destination": name,
            "sms_count": 2 * len(numbers),
            "price": rate,
            "total": total,
        }

    _exact(
        answer,
        200,
        {
            "calculate": {
                "info": {"sms_count": 8, "subtotal": 0.32, "total": 0.3872, "tax": 0.0672},
                "destinations": [
                    line("Latvia LMT", [int(LMT)], 0.03, 0.0726, 0.0726),
                    line("Latvia Tele2", [int(TELE2)], 0.04, 0.0968, 0.0968),
                    line("Denmark TDC", [int(TDC), int(TDC_2)], 0.045, 0.1089, 0.2178),
                ],
            }
        },
    )
    assert answer.headers["X-RateLimit-Limit"] == "3000"
    # the seed's own call, untaxed: "tax": 0 and money as plain JSON numbers
    plain = _customer(db, name="Plain")
    answer = _calculate(client, plain, {"message": "message", "recipients": [TDC]})
    assert answer.status_code == 200
    assert answer.content.startswith(
        b'{"calculate":{"info":{"sms_count":1,"subtotal":0.045,"total":0.045,"tax":0},'
    )
    assert _balance(db, c) == Decimal("10")  # a price, not a charge


def test_calculate_errors(db: Database, client: httpx.Client) -> None:
    c = _customer(db)
    _exact(
        _calculate(client, c, {"recipients": [LMT]}),
        422,
        {"message": MISSING_MESSAGE, "errors": {"message": [MISSING_MESSAGE]}},
    )
    _exact(
        _calculate(client, c, {"message": "hi"}),
        422,
        {"message": MISSING_RECIPIENTS, "errors": {"recipients": [MISSING_RECIPIENTS]}},
    )
    both = {
        "message": "The given data was invalid.",
        "errors": {"message": [MISSING_MESSAGE], "recipients": [MISSING_RECIPIENTS]},
    }
    _exact(_calculate(client, c, {}), 422, both)
    _exact(_calculate(client, c, {"message": "  ", "recipients": []}), 422, both)
    _exact(client.post("/sendings/calculate", headers=_h(c)), 422, both)  # no body at all
    bad = "The recipients.1 format is invalid (8 to 20 digits expected)."
    _exact(
        _calculate(client, c, {"message": "hi", "recipients": [LMT, "+37126123457"]}),
        422,
        {"message": bad, "errors": {"recipients.1": [bad]}},
    )
    unknown = "Not valid phone numbers: '99999999'."
    _exact(
        _calculate(client, c, {"message": "hi", "recipients": ["99999999"]}),
        422,
        {"message": unknown, "errors": {"recipients": [unknown]}},
    )
    no_rate = "No rate for destination United States (+12025550123)."
    _exact(
        _calculate(client, c, {"message": "hi", "recipients": ["12025550123"]}),
        422,
        {"message": no_rate, "errors": {"recipients": [no_rate]}},
    )
    not_json = "The request body is not valid JSON."
    _exact(
        client.post("/sendings/calculate", headers=_h(c), content=b'{"message": "hi",'),
        422,
        {"message": not_json, "errors": {"body": [not_json]}},
    )
    not_object = "The request body must be a JSON object."
    _exact(
        client.post("/sendings/calculate", headers=_h(c), content=b'["hi"]'),
        422,
        {"message": not_object, "errors": {"body": [not_object]}},
    )


def _send(client: httpx.Client, c: Customer, body: object) -> httpx.Response:
    return client.post("/sendings", headers=_h(c), json=body)


def test_sending_as_the_seed_sends_it(db: Database, client: httpx.Client) -> None:
    c = _customer(db, timezone="Europe/Riga", tax_rate=Decimal("0.21"))
    priced = _calculate(client, c, {"message": "message", "recipients": [LMT, TDC]}).json()
    price = Decimal(str(priced["calculate"]["info"]["total"]))
    later = (datetime.now(ZoneInfo("Europe/Riga")) + timedelta(days=2)).strftime(LOCAL)
    # the seed's curl: recipients as a JSON-encoded string, scheduled_at in local time
    seed_body = json.dumps(
        {
            "message": "message",
            "recipients": json.dumps([LMT, TDC]),  # a string: "[\"3712...\", ...]"
            "sender": "ACME",
            "scheduled_at": later,
        }
    )
    answer = client.post("/sendings", headers=_h(c), content=seed_body.encode())
    assert answer.status_code == 200, answer.text
    sending_id = answer.json()["sending_id"]
    assert answer.json() == {"message": "SMS champing created", "sending_id": sending_id}
    assert _balance(db, c) == Decimal("10") - price  # charged what calculate said

    one = client.get(f"/sendings/{sending_id}", headers=_h(c))
    assert one.status_code == 200
    sending = one.json()["sending"]
    assert list(sending) == ["id", "status", "updated_at", "scheduled_at"]
    assert sending["id"] == sending_id and sending["status"] == "Pending"
    assert sending["scheduled_at"] == later  # round-trips in the account's time zone
    assert ISO.match(sending["updated_at"])

    now = client.post(
        "/sendings",
        headers=_h(c),
        json={"message": "now", "recipients": [LMT], "sender": "ACME", "type": "twilio"},
    )
    assert now.status_code == 200, now.text
    now_id = now.json()["sending_id"]
    listed = client.get("/sendings", headers=_h(c)).json()["sendings"]
    assert [s["id"] for s in listed] == [sending_id, now_id]  # oldest first, as the seed
    first, second = listed
    assert list(first) == ["id", "text", "created_at", "scheduled_at", "status", "total_sms"]
    assert (first["text"], first["status"], first["total_sms"]) == ("message", "Pending", 2)
    assert first["scheduled_at"] == later and ISO.match(first["created_at"])
    # an unscheduled sending shows its creation time, in the account's zone
    created = datetime.strptime(second["created_at"], "%Y-%m-%dT%H:%M:%S.000000Z")
    local = created.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Riga")).strftime(LOCAL)
    assert second["scheduled_at"] == local
    assert abs(created.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)
    # the dispatcher sends it (simulator): the status follows
    wait_for(
        lambda: (
            client.get(f"/sendings/{now_id}", headers=_h(c)).json()["sending"]["status"]
            == "Completed"
        )
    )
    assert (
        client.get("/sendings", headers=_h(c), params={"limit": 1}).json()["sendings"][0]["id"]
        == now_id
    )
    older = client.get("/sendings", headers=_h(c), params={"before_id": now_id}).json()
    assert [s["id"] for s in older["sendings"]] == [sending_id]


def test_sending_form_and_query(db: Database, client: httpx.Client) -> None:
    c = _customer(db)
    answer = client.post(
        "/sendings",
        headers={**c.headers, "Accept": "application/json"},
        data={"message": "form", "recipients[]": [LMT, TDC], "sender": "ACME"},
    )
    assert answer.status_code == 200, answer.text
    answer = client.post(
        "/sendings",
        headers=_h(c),
        params={"sender": "ACME"},
        json={"message": "query too", "recipients": int(LMT)},
    )
    assert answer.status_code == 200, answer.text
    totals = [s["total_sms"] for s in client.get("/sendings", headers=_h(c)).json()["sendings"]]
    assert totals == [2, 1]


def _under_message(*texts: str) -> dict[str, object]:
    return {"message": texts[0], "errors": {"message": list(texts)}}


def test_sending_errors(db: Database, client: httpx.Client) -> None:
    c = _customer(db, balance=Decimal("0.05"))
    ok = {"message": "hi", "recipients": [LMT], "sender": "ACME"}
    # the seed's three bodies: every error under `errors.message` (sic)
    _exact(_send(client, c, {**ok, "message": None}), 422, _under_message(MISSING_MESSAGE))
    _exact(_send(client, c, {**ok, "recipients": "[]"}), 422, _under_message(MISSING_RECIPIENTS))
    _exact(_send(client, c, {**ok, "sender": ""}), 422, _under_message(MISSING_SENDER))
    _exact(
        _send(client, c, {}),
        422,
        _under_message(MISSING_MESSAGE, MISSING_RECIPIENTS, MISSING_SENDER),
    )
    for body, text in [
        ({**ok, "sender": "OTHER"}, "Sender 'OTHER' is not an approved sender of this account."),
        ({**ok, "recipients": [LMT, TELE2]}, None),  # 0.03 + 0.04 > 0.05
        ({**ok, "type": "sms"}, "Type must be one of default, infobip, messente, trumpia, twilio."),
        (
            {**ok, "scheduled_at": "2023-08-22T09:03:42"},
            "The scheduled at does not match the format Y-m-d H:i:s.",
        ),
        (
            {**ok, "recipients": '["3712612"]'},
            "The recipients.0 format is invalid (8 to 20 digits expected).",
        ),
        ({**ok, "recipients": "[371"}, "The recipients must be an array."),
        ({**ok, "recipients": {"a": LMT}}, "The recipients must be an array."),
        ({**ok, "message": 5}, "The message must be a string."),
        ({**ok, "message": "x" * 1531}, "The text needs 11 SMS parts; at most 10 are allowed."),
    ]:
        answer = _send(client, c, body)
        assert answer.status_code == 422, answer.text
        if text is None:
            text = answer.json()["message"]
            assert text.startswith("The balance cannot cover this send: it costs 0.07")
        _exact(answer, 422, _under_message(text))
    not_json = "The request body is not valid JSON."
    _exact(
        client.post("/sendings", headers=_h(c), content=b"{not json"),
        422,
        _under_message(not_json),
    )
    assert _balance(db, c) == Decimal("0.05")  # nothing charged


def test_other_accounts_sendings_are_not_found(db: Database, client: httpx.Client) -> None:
    alice = _customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    sent = _send(client, alice, {"message": "hi", "recipients": [LMT], "sender": "ACME"})
    sending_id = sent.json()["sending_id"]
    assert client.get(f"/sendings/{sending_id}", headers=_h(alice)).status_code == 200
    for who, ref in [(bob, sending_id), (alice, 999999), (alice, "abc"), (alice, "9" * 30)]:
        _exact(
            client.get(f"/sendings/{ref}", headers=_h(who)),
            404,
            {"message": f"No query results for model {ref}"},
        )
    _exact(client.get("/sendings", headers=_h(bob)), 200, {"sendings": []})
    no_route = client.get("/sendings/1/x", headers=_h(alice))
    _exact(no_route, 404, {"message": "There is no endpoint /sendings/1/x."})
    assert (
        no_route.content == b'{"message":"There is no endpoint \\/sendings\\/1\\/x."}'
    )  # Laravel's \/
    _exact(client.delete("/balance", headers=_h(alice)), 405, {"message": "Method Not Allowed."})
    limit = "The limit must be an integer from 1 to 1000."
    _exact(
        client.get("/sendings", headers=_h(alice), params={"limit": "0"}),
        422,
        {"message": limit, "errors": {"limit": [limit]}},
    )


@pytest.fixture
def small_server(settings: Settings, plan: str) -> Iterator[str]:
    tight = settings.model_copy(update={"smsgic_calculate_per_minute": 3, "max_body_bytes": 2048})
    with running_server(tight, dispatch=False) as url:
        yield url


def test_calculate_limit_and_body_limit(db: Database, small_server: str) -> None:
    alice, bob = _customer(db, name="Alice"), _customer(db, name="Bob")
    body = {"message": "hi", "recipients": [LMT]}
    with httpx.Client(base_url=small_server, timeout=30) as client:
        remaining = []
        for _ in range(3):
            answer = _calculate(client, alice, body)
            assert answer.status_code == 200, answer.text
            remaining.append(answer.headers["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        refused = _calculate(client, alice, body)
        _exact(refused, 429, {"message": "Too Many Attempts."})
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # invalid requests count too, as behind Laravel's throttle middleware
        _exact(_calculate(client, alice, {}), 429, {"message": "Too Many Attempts."})
        assert _calculate(client, bob, body).status_code == 200  # per token
        assert client.get("/balance", headers=_h(alice)).status_code == 200  # calculate only

        big = {"message": "x" * 4000, "recipients": [LMT], "sender": "ACME"}
        _exact(
            _send(client, bob, big),
            413,
            {"message": "The request body is larger than 2048 bytes."},
        )
        chunks = (b'{"message": "' + b"x" * 1000 for _ in range(3))
        answer = client.post("/sendings", headers=_h(bob), content=chunks)
        _exact(answer, 413, {"message": "The request body is larger than 2048 bytes."})
