"""How sms.by clients reach the surface: token, parameters, encoding, errors, rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from starlette.responses import Response

from smsgate.accounts.models import TokenScope
from smsgate.accounts.service import create_token, revoke_token
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.surfaces.smsby import COMMANDS
from smsgate.surfaces.smsby._transport import Call
from tests.support.factories import make_customer
from tests.support.server import running_server
from tests.surfaces.test_smsby_support import call, error, ok


def test_token_problems_are_403(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    with db.write() as session:
        _, operator = create_token(session, None, scope=TokenScope.OPERATOR)
        token, revoked = create_token(session, c.account_id)
        revoke_token(session, token.id)
    assert "token" in error(call(client, "getBalance"), 403)
    error(call(client, "getBalance", token="nope"), 403)
    error(call(client, "getBalance", token=revoked), 403)
    error(call(client, "getBalance", "post_json", token=operator), 403)
    error(client.get("/api/v1/getBalance", headers={"Authorization": "Bearer nope"}), 403)
    bearer = client.post("/api/v1/getBalance", headers={"Authorization": f"Bearer {c.token}"})
    assert ok(bearer)["status"] == "OK"


def test_unknown_commands_and_routes_are_404(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    assert "sendFax" in error(call(client, "sendFax", token=c.token), 404)
    error(call(client, "sendFax"), 404)  # the command is checked before the token
    error(client.get("/api/v1/"), 404)
    error(client.get("/api/v1/getBalance/extra", params={"token": c.token}), 404)
    error(client.put("/api/v1/getBalance", params={"token": c.token}), 405)


def test_bodies_that_cannot_be_read_are_400(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    url = f"/api/v1/getBalance?token={c.token}"
    json_type = {"content-type": "application/json"}
    error(client.post(url, content=b"{not json", headers=json_type), 400)
    error(client.post(url, content=b"[1, 2]", headers=json_type), 400)
    error(client.post("/api/v1/getBalance", content=b'{"token": ', headers=json_type), 400)
    form = {"content-type": "application/x-www-form-urlencoded"}
    error(client.post(url, content=b"message=\xff\xfe", headers=form), 400)
    error(
        client.post(url, content=b"--x\r\n", headers={"content-type": "multipart/form-data"}), 400
    )
    error(call(client, "sendQuickSMS", token=c.token, message="a\x00b", phone="375291234567"), 400)
    strange = b'--b\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; '
    strange += b"charset=nonesuch\r\n\r\nx\r\n--b--\r\n"
    multipart = {"content-type": "multipart/form-data; boundary=b"}
    error(client.post(url, content=strange, headers=multipart), 400)
    error(call(client, "checkSMS", token=c.token, sms_id="9" * 5000), 400)
    error(call(client, "createBill", token=c.token, amount="9" * 5000, amount_type="sms"), 421)
    # a body of another type is ignored, as PHP does; the query string still counts
    assert ok(client.post(url, content=b"<xml/>", headers={"content-type": "text/xml"}))


def test_parameters_merge_query_and_body_the_body_winning(
    db: Database, client: httpx.Client
) -> None:
    c = make_customer(db)
    # the seen-in-the-wild style: token, message and phone in the query, fields in multipart
    answer = client.post(
        "/api/v1/createSmsMessage",
        params={"token": c.token, "message": "from the query"},
        files={"message": (None, "из тела 😀\r\nline 2")},
    )
    template = ok(answer)["message_id"]
    status = ok(call(client, "checkSMSMessageStatus", token=c.token, message_id=template))
    assert status["message"] == "из тела 😀\r\nline 2"
    # JSON without a content type, as some hand-written clients send it
    raw = client.post(
        "/api/v1/getLimit",
        content=f'{{"token": "{c.token}"}}'.encode(),
        headers={"content-type": ""},
    )
    assert "limit" in ok(raw)


def test_json_is_written_like_laravel(db: Database, client: httpx.Client) -> None:
    c = make_customer(db)
    text = "Заказ 12/5 готов 😀"
    template = ok(call(client, "createSmsMessage", "post_json", token=c.token, message=text))
    answer = call(client, "checkSMSMessageStatus", token=c.token, message_id=template["message_id"])
    assert answer.content.isascii()
    assert b'"message":"\\u0417\\u0430\\u043a\\u0430\\u0437 12\\/5 ' in answer.content
    assert b"\\ud83d\\ude00" in answer.content  # outside the BMP: a surrogate pair, as PHP
    assert answer.json()["message"] == text
    assert b": " not in answer.content and b", " not in answer.content


def test_an_internal_error_is_a_500_error_body(
    db: Database, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_customer(db)

    async def broken(call: Call) -> Response:
        raise RuntimeError("boom")

    monkeypatch.setitem(COMMANDS, "getlimit", broken)
    assert "internal" in error(call(client, "getLimit", token=c.token), 500)


@pytest.fixture
def limited(settings: Settings, plan: str) -> Iterator[httpx.Client]:
    with (
        running_server(settings.model_copy(update={"smsby_per_minute": 3})) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def test_requests_over_the_limit_are_429(db: Database, limited: httpx.Client) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob", balance=Decimal(1))
    for _ in range(3):
        ok(call(limited, "getBalance", token=alice.token))
    over = call(limited, "getBalance", "post_query", token=alice.token)
    assert "limit" in error(over, 429).lower()
    assert 1 <= int(over.headers["retry-after"]) <= 60
    error(call(limited, "sendQuickSMS", token=alice.token, message="hi", phone="375291234567"), 429)
    ok(call(limited, "getBalance", token=bob.token))  # per token
