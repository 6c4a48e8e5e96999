"""Callbacks from HTTP upstreams must prove where they come from, over real HTTP on SQLite
and PostgreSQL: Twilio's ``X-Twilio-Signature`` over the URL the connector gave Twilio (also
behind a proxy, with ``SMSGATE_PUBLIC_URL``), and every connector's secret callback token in
the path. Forged callbacks are answered 403 and change nothing. Twilio and Infobip forward
inbound messages the same way, and STOP / START apply to them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from smsgate.config import Settings
from smsgate.connectors.http.twilio import TwilioProvider, signature
from smsgate.connectors.models import ConnectorConfig
from smsgate.connectors.registry import add_connector, new_callback_url
from smsgate.db import Database
from smsgate.messaging.models import MessagePart
from smsgate.routing.service import add_route
from tests.connectors.http.fakes_intl import (
    FakeInfobip,
    FakeMessente,
    FakeTwilio,
    running,
    twilio_signature,
)
from tests.connectors.http.fakes_seed import FakeDevsms, FakeEskiz
from tests.support.factories import make_customer
from tests.support.server import running_server
from tests.support.waiting import wait_for

PUBLIC = "https://gw.example/sms"  # where Twilio believes smsgate is: a proxy in front of it

# --- Twilio's signature, against the vectors of Twilio's own validator --------------------

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


def test_the_signature_follows_twilios_published_vectors() -> None:
    assert signature(VECTOR_URL, VECTOR_PARAMS.items(), "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert signature(VECTOR_URL, repeated, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("url", "header"),
    [
        (VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # a proxy added a port, or Twilio signed the URL with its default port
        (VECTOR_URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        (VECTOR_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)
def test_authentic_twilio_requests_verify(url: str, header: str) -> None:
    body = urlencode(VECTOR_PARAMS).encode()
    assert TwilioProvider.authentic(url, body, {"x-twilio-signature": header}, "12345")


@pytest.mark.parametrize(
    ("url", "params", "header", "token"),
    [
        (VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "54321"),  # other token
        (VECTOR_URL, VECTOR_PARAMS | {"Digits": "9999"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"),
        (VECTOR_URL + "&x=1", VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"),
        (VECTOR_URL, VECTOR_PARAMS, "", "12345"),  # no signature
        (VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", ""),  # no token stored
    ],
)
def test_forged_twilio_requests_do_not_verify(
    url: str, params: dict[str, str], header: str, token: str
) -> None:
    body = urlencode(params).encode()
    assert not TwilioProvider.authentic(url, body, {"x-twilio-signature": header}, token)


# --- Twilio behind a proxy: the public URL is the one signed and verified -------------------


@pytest.fixture
def public_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC, "webhooks_allow_private": True})


@pytest.fixture
def gateway(public_settings: Settings, plan: str) -> Iterator[str]:
    with running_server(public_settings) as url:
        yield url


def _send(client: httpx.Client, headers: dict[str, str], to: str, text: str = "hi") -> int:
    answer = client.post(
        "/v1/messages", headers=headers, json={"to": to, "text": text, "sender": "ACME"}
    )
    assert answer.status_code == 200, answer.text
    message_id: int = answer.json()["messages"][0]["id"]
    return message_id


def _status(client: httpx.Client, headers: dict[str, str], message_id: int) -> str:
    status: str = client.get(f"/v1/messages/{message_id}", headers=headers).json()["status"]
    return status


def test_twilio_callbacks_are_verified_against_the_public_url(
    db: Database, public_settings: Settings, gateway: str
) -> None:
    customer = make_customer(db, balance=Decimal("10"))
    with running(FakeTwilio(proxy={PUBLIC: gateway})) as tw, httpx.Client(base_url=gateway) as c:
        assert isinstance(tw, FakeTwilio)
        with db.write() as s:  # no callback_url option: the public URL gives it
            config = add_connector(
                s,
                "tw",
                "twilio",
                {"base_url": tw.url, "account_sid": tw.account_sid},
                tw.auth_token,
            )
            add_route(s, "tw")
            url = new_callback_url(config, public_settings)
        assert url is not None and url.startswith(f"{PUBLIC}/v1/callbacks/tw/")
        time.sleep(2.5)  # the dispatcher reads connectors and routes every 2 s

        good = _send(c, customer.headers, "+37121000001")
        wait_for(lambda: _status(c, customer.headers, good) == "delivered", timeout=15)
        assert tw.seen[0].body["StatusCallback"] == url
        assert tw.callbacks == [(url, 200)] * 2

        # signed with the wrong URL (the one the proxy connects to), unsigned, wrong key
        for signing in ("request_url", "none", "wrong_key"):
            tw.signing, tw.callbacks = signing, []
            forged = _send(c, customer.headers, "+37121000002")
            wait_for(lambda: len(tw.callbacks) == 2, timeout=15)
            assert tw.callbacks == [(url, 403)] * 2, signing
            assert _status(c, customer.headers, forged) == "submitted"


# --- every other provider: the callback token ---------------------------------------------


def _receipt(kind: str, upstream_id: str) -> dict[str, Any]:
    """A delivered receipt in each provider's own words."""
    return {
        "ib": {
            "results": [
                {
                    "messageId": upstream_id,
                    "status": {"groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
                    "error": {"id": 0, "name": "NO_ERROR"},
                }
            ]
        },
        "ms": {"message_id": upstream_id, "status": "DELIVRD", "err": 0},
        "dev": {"sms_id": upstream_id, "status": "DELIVERED"},
        "esk": {"request_id": upstream_id, "status": "DELIVRD"},
    }[kind]


def test_callbacks_without_the_connectors_token_are_refused(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    customer = make_customer(db, balance=Decimal("10"))
    with ExitStack() as stack:
        ib, ms, dev, esk = (
            stack.enter_context(running(f))
            for f in (FakeInfobip(), FakeMessente(), FakeDevsms(), FakeEskiz())
        )
        assert isinstance(ib, FakeInfobip) and isinstance(ms, FakeMessente)
        assert isinstance(dev, FakeDevsms) and isinstance(esk, FakeEskiz)
        # no callback URL is known (no option, no public URL): the fakes call nobody back,
        # and the test plays the provider
        configs = {
            "ib": ("infobip", {"base_url": ib.url}, ib.api_key),
            "ms": ("messente", {"base_url": f"{ms.url}/v1", "username": ms.username}, ms.password),
            "dev": ("devsms", {"base_url": dev.url, "poll_interval": 0}, dev.token),
            "esk": ("eskiz", {"base_url": esk.url, "email": esk.email}, esk.password),
            "gic": ("smsgic", {"base_url": "http://127.0.0.1:9", "poll_interval": 0}, "t"),
            "by": ("smsby", {"base_url": "http://127.0.0.1:9", "poll_interval": 0}, "t"),
        }
        paths: dict[str, str] = {}
        with db.write() as s:
            for name, (kind, options, secret) in configs.items():
                path = new_callback_url(add_connector(s, name, kind, options, secret), settings)
                assert path is not None and path.startswith(f"/v1/callbacks/{name}/")
                paths[name] = path
            for prefix, name in [("37122", "ib"), ("37123", "ms"), ("99890", "dev")]:
                add_route(s, name, prefix=prefix)
            add_route(s, "esk", prefix="99891")
        time.sleep(2.5)
        sent = {
            "ib": _send(client, customer.headers, "+37122000001"),
            "ms": _send(client, customer.headers, "+37123000001"),
            "dev": _send(client, customer.headers, "+998901234567"),
            "esk": _send(client, customer.headers, "+998911234567"),
        }
        wait_for(
            lambda: all(_status(client, customer.headers, m) == "submitted" for m in sent.values())
        )
        with db.read() as s:
            upstream = {
                name: s.scalars(
                    select(MessagePart.upstream_id).where(MessagePart.message_id == mid)
                ).one()
                for name, mid in sent.items()
            }

        for name, mid in sent.items():
            body = _receipt(name, upstream[name])
            other = paths["ib" if name != "ib" else "ms"].rsplit("/", 1)[1]
            for path in (
                f"/v1/callbacks/{name}",  # no token
                f"/v1/callbacks/{name}/{uuid.uuid4().hex}",  # a guess
                f"/v1/callbacks/{name}/{other}",  # another connector's token
                paths[name] + "x",
            ):
                refused = client.post(path, json=body)
                assert refused.status_code == 403, (name, path, refused.text)
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["code"] == "callback_unauthenticated"
            assert _status(client, customer.headers, mid) == "submitted"
            taken = client.post(paths[name], json=body)
            assert (taken.status_code, taken.text) == (200, "OK")
            assert _status(client, customer.headers, mid) == "delivered"

        # the polling providers take no callbacks, but their URL is guarded just the same
        for name in ("gic", "by"):
            assert client.post(f"/v1/callbacks/{name}/nope", json={}).status_code == 403
            assert client.post(paths[name], json={}).status_code == 200
        assert client.post("/v1/callbacks/nobody/x", json={}).status_code == 404
        assert client.post("/v1/callbacks/simulator", json={}).status_code == 404


def test_legacy_rows_without_a_token_refuse_every_callback_but_twilios_signed_ones(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    """Rows written before callback tokens existed (plain secret, no token): Twilio's
    signature still authenticates them; the others answer 403 until ``connectors rekey``."""
    with db.write() as s:
        s.add(
            ConnectorConfig(
                name="old-tw",
                kind="twilio",
                secret="auth",
                options='{"base_url": "https://api.twilio.com", "account_sid": "AC1"}',
            )
        )
        s.add(
            ConnectorConfig(
                name="old-dev",
                kind="devsms",
                secret="tok",
                options='{"base_url": "https://devsms.uz"}',
            )
        )
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    url = f"{client.base_url}/v1/callbacks/old-tw"
    signed = {"X-Twilio-Signature": twilio_signature(url, form, "auth")}
    assert client.post("/v1/callbacks/old-tw", data=form, headers=signed).status_code == 200
    wrong = {"X-Twilio-Signature": twilio_signature(url, form, "other")}
    assert client.post("/v1/callbacks/old-tw", data=form, headers=wrong).status_code == 403
    assert client.post("/v1/callbacks/old-dev", json={"sms_id": "1"}).status_code == 403


# --- inbound messages ------------------------------------------------------------------------


def test_twilio_and_infobip_forward_inbound_messages_and_stop_start(
    db: Database, settings: Settings, client: httpx.Client
) -> None:
    number = "37125550000"  # the account's number: an approved sender of that name
    customer = make_customer(db, balance=Decimal("10"), sender=number)
    with running(FakeTwilio()) as tw, running(FakeInfobip()) as ib:
        assert isinstance(tw, FakeTwilio) and isinstance(ib, FakeInfobip)
        with db.write() as s:
            tw_path = new_callback_url(
                add_connector(
                    s,
                    "tw",
                    "twilio",
                    {"base_url": tw.url, "account_sid": tw.account_sid},
                    tw.auth_token,
                ),
                settings,
            )
            ib_path = new_callback_url(
                add_connector(s, "ib", "infobip", {"base_url": ib.url}, ib.api_key), settings
            )
        assert tw_path and ib_path
        # the operator pasted these into the providers' number settings
        tw_url, ib_url = f"{client.base_url}{tw_path}", f"{client.base_url}{ib_path}"

        answer = tw.send_inbound(tw_url, "+37126000001", f"+{number}", "STOP please")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/xml")
        assert "<Response>" in answer.text  # empty TwiML: no reply
        tw.signing = "wrong_key"
        assert tw.send_inbound(tw_url, "+37126000002", f"+{number}", "STOP").status_code == 403

        opted = client.get("/v1/opt-outs", headers=customer.headers).json()["opt_outs"]
        assert [(o["msisdn"], o["keyword"]) for o in opted] == [("37126000001", "STOP")]
        refused = client.post(
            "/v1/messages",
            headers=customer.headers,
            json={"to": "+37126000001", "text": "hi", "sender": number},
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "opted_out")

        taken = ib.send_inbound(
            ib_url, ("37126000001", number, "START"), ("37126000003", number, "Hello there")
        )
        assert taken.status_code == 200
        assert ib.send_inbound(ib_url + "0", ("37126000004", number, "STOP")).status_code == 403
    assert client.get("/v1/opt-outs", headers=customer.headers).json()["opt_outs"] == []
    inbox = client.get("/v1/inbound", headers=customer.headers).json()["messages"]
    assert [(m["source"], m["destination"], m["text"]) for m in inbox] == [
        ("37126000003", number, "Hello there"),
        ("37126000001", number, "START"),
        ("+37126000001", f"+{number}", "STOP please"),
    ]
