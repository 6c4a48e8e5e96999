"""sms.by two-factor codes over real HTTP: password objects and sendSmsMessageWithCode."""

from __future__ import annotations

import re
import string
from decimal import Decimal

import httpx

from smsgate.billing import ledger
from smsgate.db import Database
from smsgate.messaging import queries
from tests.support.factories import make_customer
from tests.surfaces.test_smsby_support import call, error, ok

LEN_ERROR = "len value must be beetwen 1 and 16"  # sic: sms.by's own spelling
PHP_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
ALPHABETS = {
    "letters": set(string.ascii_uppercase),
    "numbers": set(string.digits),
    "both": set(string.ascii_uppercase + string.digits),
}


def _create(client: httpx.Client, token: str, kind: str, length: int, style: str = "get") -> int:
    body = ok(call(client, "createPasswordObject", style, token=token, type_id=kind, len=length))
    assert list(body) == ["result"] and list(body["result"]) == ["password_object_id"]
    return int(body["result"]["password_object_id"])


def test_password_objects_crud(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    first = _create(client, c.token, "both", 5)
    second = _create(client, c.token, "numbers", 4, "post_query")
    listed = ok(call(client, "getPasswordObjects", token=c.token))["result"]
    assert [(o["id"], o["type_id"], o["len"]) for o in listed] == [
        (first, "both", 5),
        (second, "numbers", 4),
    ]
    assert all(list(o) == ["id", "type_id", "len", "d_create"] for o in listed)
    assert all(PHP_TIME.match(o["d_create"]) for o in listed)
    one = ok(call(client, "getPasswordObject", "post_form", token=c.token, id=first))
    assert one == {"result": listed[0]}

    edited = call(
        client, "editPasswordObject", "post_json", token=c.token, id=first, type_id="letters", len=8
    )
    assert ok(edited) == {"result": "1"}
    assert ok(call(client, "getPasswordObject", token=c.token, id=first))["result"]["len"] == 8
    ok(call(client, "editPasswordObject", token=c.token, id=first, len=3))  # type kept
    after = ok(call(client, "getPasswordObject", token=c.token, id=first))["result"]
    assert (after["type_id"], after["len"]) == ("letters", 3)

    assert ok(call(client, "deletePasswordObject", token=c.token, id=second)) == {"result": "1"}
    assert error(call(client, "deletePasswordObject", token=c.token, id=second), 404) == "not found"
    assert error(call(client, "getPasswordObject", token=c.token, id=second), 404) == "not found"
    assert [o["id"] for o in ok(call(client, "getPasswordObjects", token=c.token))["result"]] == [
        first
    ]


def test_password_object_errors(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    obj = _create(client, c.token, "letters", 6)
    for length in (0, 17, 100):
        assert (
            error(
                call(client, "createPasswordObject", token=c.token, type_id="letters", len=length),
                400,
            )
            == LEN_ERROR
        )
        assert error(
            call(client, "editPasswordObject", token=c.token, id=obj, len=length), 400
        ) == (LEN_ERROR)
    assert "type_id" in error(
        call(client, "createPasswordObject", token=c.token, type_id="emoji", len=4), 400
    )
    error(call(client, "editPasswordObject", token=c.token, id=obj, type_id="runes"), 400)
    error(call(client, "createPasswordObject", token=c.token, len=4), 400)
    error(call(client, "createPasswordObject", token=c.token, type_id="both"), 400)
    error(call(client, "createPasswordObject", token=c.token, type_id="both", len="four"), 400)
    error(call(client, "getPasswordObject", token=c.token), 400)
    assert ok(call(client, "getPasswordObject", token=c.token, id=obj))["result"]["len"] == 6


def test_codes_have_the_object_kind_and_length(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    for kind, length in (("letters", 10), ("numbers", 6), ("both", 16), ("numbers", 1)):
        obj = _create(client, c.token, kind, length)
        answer = call(
            client,
            "sendSmsMessageWithCode",
            "post_query",
            token=c.token,
            message="Your code: %CODE%. Never share %CODE%",
            password_object_id=obj,
            phone="375291234567",
        )
        body = ok(answer)
        assert list(body) == ["status", "parts", "len", "sms_id", "code"]
        code = body["code"]
        assert len(code) == length and set(code) <= ALPHABETS[kind]
        with db.read() as session:
            text = queries.get_message(session, c.account_id, body["sms_id"]).text
        assert text == f"Your code: {code}. Never share {code}"
        assert body["len"] == len(text) and body["status"] == "ok" and body["parts"] == 1
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("10") - 4 * Decimal("0.06")


def test_code_errors_and_isolation(db: Database, client: httpx.Client) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    obj = _create(client, alice.token, "numbers", 4)
    send = {"message": "Code %CODE%", "phone": "375291234567"}
    assert "%CODE%" in error(
        call(
            client,
            "sendSmsMessageWithCode",
            token=alice.token,
            message="no placeholder",
            password_object_id=obj,
            phone="375291234567",
        ),
        400,
    )
    error(call(client, "sendSmsMessageWithCode", token=alice.token, **send), 400)
    for name, params in (
        ("getPasswordObject", {"id": obj}),
        ("editPasswordObject", {"id": obj, "len": 5}),
        ("deletePasswordObject", {"id": obj}),
        ("sendSmsMessageWithCode", {"password_object_id": obj, **send}),
    ):
        assert error(call(client, name, token=bob.token, **params), 404) == "not found"
    assert ok(call(client, "getPasswordObjects", token=bob.token)) == {"result": []}
    assert ok(call(client, "getPasswordObject", token=alice.token, id=obj))["result"]["len"] == 4
    with db.read() as session:
        assert ledger.balance(session, alice.account_id) == Decimal("10")
        assert ledger.balance(session, bob.account_id) == Decimal("10")
