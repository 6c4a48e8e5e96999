"""The seed providers as upstreams (SMSgic, devsms.uz, sms.by, Eskiz) against local fakes of
their APIs: the requests they make, how refusals map to outcomes and health, polling,
callbacks, and end to end through a running smsgate on SQLite and PostgreSQL, including
smsgate reselling through another smsgate's SMSgic, devsms.uz and sms.by surfaces.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from smsgate.billing import ledger
from smsgate.config import Settings
from smsgate.connectors.base import Outcome, Receipt, SubmitResult
from smsgate.connectors.http import load_providers
from smsgate.connectors.http._seed import SeedProvider
from smsgate.connectors.http.devsms import DevsmsProvider
from smsgate.connectors.http.eskiz import EskizProvider
from smsgate.connectors.http.smsby import SmsbyProvider
from smsgate.connectors.http.smsgic import SmsgicProvider
from smsgate.connectors.registry import add_connector, new_callback_url
from smsgate.db import Database
from smsgate.errors import InvalidRequest
from smsgate.messaging.models import Message
from smsgate.messaging.status import MessageStatus
from smsgate.routing.service import add_route
from tests.connectors.http.fakes_seed import (
    Fake,
    FakeDevsms,
    FakeEskiz,
    FakeSmsby,
    FakeSmsgic,
    drive,
    outbound,
    running,
    submit,
)
from tests.support.factories import make_customer, make_plan
from tests.support.postgres import free_port
from tests.support.server import running_server
from tests.support.waiting import wait_for

KINDS = ("smsgic", "devsms", "smsby", "eskiz")
# nobody listens there: the fakes' callbacks in the unit tests are refused at once
CALLBACK = f"http://127.0.0.1:{free_port()}/v1/callbacks/up"
# a number each fake accepts; the same ending in 99 fails at the fake
NUMBERS = {
    "smsgic": "37126123456",
    "devsms": "998901234567",
    "smsby": "375291234567",
    "eskiz": "998901234567",
}


@dataclass
class Upstreams:
    smsgic: FakeSmsgic
    devsms: FakeDevsms
    smsby: FakeSmsby
    eskiz: FakeEskiz

    def of(self, kind: str) -> Fake:
        fake: Fake = getattr(self, kind)
        return fake

    def secret(self, kind: str) -> str:
        return {
            "smsgic": self.smsgic.token,
            "devsms": self.devsms.token,
            "smsby": self.smsby.token,
            "eskiz": self.eskiz.password,
        }[kind]

    def options(self, kind: str) -> dict[str, Any]:
        fake = self.of(kind)
        return {
            "smsgic": {"base_url": fake.url},
            "devsms": {"base_url": fake.url, "callback_url": CALLBACK},
            "smsby": {"base_url": fake.url, "alphaname_id": "1363"},
            "eskiz": {"base_url": fake.url, "email": self.eskiz.email, "callback_url": CALLBACK},
        }[kind]


@pytest.fixture(scope="module")
def fakes() -> Iterator[Upstreams]:
    with ExitStack() as stack:
        served = [
            stack.enter_context(running(f))
            for f in (FakeSmsgic(), FakeDevsms(), FakeSmsby(), FakeEskiz())
        ]
        gic, dev, by, esk = served
        assert isinstance(gic, FakeSmsgic) and isinstance(dev, FakeDevsms)
        assert isinstance(by, FakeSmsby) and isinstance(esk, FakeEskiz)
        yield Upstreams(gic, dev, by, esk)


@pytest.fixture(autouse=True)
def _fresh(fakes: Upstreams) -> None:
    for kind in KINDS:
        fakes.of(kind).reset()


def provider(fakes: Upstreams, kind: str, secret: str | None = None, **options: Any) -> Any:
    cls = load_providers()[kind]
    config = fakes.options(kind) | options
    return cls(f"up-{kind}", config, fakes.secret(kind) if secret is None else secret)


def failing(kind: str) -> str:
    return NUMBERS[kind][:-2] + "99"


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# --- the requests -------------------------------------------------------------------------


def test_smsgic_posts_one_sending_per_message(fakes: Upstreams) -> None:
    (result,) = submit(provider(fakes, "smsgic"), outbound(text="Hello from smsgate"))
    assert result.outcome is Outcome.SUBMITTED and result.upstream_ids == ("1001",)
    (seen,) = fakes.smsgic.seen
    assert (seen.method, seen.path, seen.content_type) == ("POST", "/sendings", "application/json")
    assert seen.headers["authorization"] == f"Bearer {fakes.smsgic.token}"
    assert seen.headers["accept"] == "application/json"
    assert seen.body == {
        "message": "Hello from smsgate",
        "recipients": ["37126123456"],
        "sender": "ACME",
    }


def test_smsgic_type_and_sender_options(fakes: Upstreams) -> None:
    p = provider(fakes, "smsgic", sender="INFO", type="twilio")
    (result,) = submit(p, outbound(msisdn="+37126123456"))
    assert result.outcome is Outcome.SUBMITTED
    assert fakes.smsgic.seen[0].body == {
        "message": "Hello",
        "recipients": ["37126123456"],
        "sender": "INFO",
        "type": "twilio",
    }


def test_devsms_posts_json_with_the_callback_url(fakes: Upstreams) -> None:
    (result,) = submit(provider(fakes, "devsms"), outbound(msisdn="+998901234567"))
    assert result.outcome is Outcome.SUBMITTED and result.upstream_ids == ("1001",)
    seen = fakes.devsms.seen[0]
    assert (seen.method, seen.path, seen.content_type) == (
        "POST",
        "/api/send_sms.php",
        "application/json",
    )
    assert seen.headers["authorization"] == f"Bearer {fakes.devsms.token}"
    assert seen.body == {
        "phone": "998901234567",
        "message": "Hello",
        "from": "ACME",
        "callback_url": CALLBACK,
    }


def test_smsby_sends_the_token_in_the_query_and_the_message_as_a_form(fakes: Upstreams) -> None:
    (result,) = submit(provider(fakes, "smsby"), outbound(msisdn="+375291234567", text="Привет"))
    assert result.outcome is Outcome.SUBMITTED and result.upstream_ids == ("1001",)
    (seen,) = fakes.smsby.seen
    assert (seen.method, seen.path) == ("POST", "/api/v1/sendQuickSMS")
    assert seen.query == {"token": fakes.smsby.token}
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert seen.body == {"message": "Привет", "phone": "375291234567", "alphaname_id": "1363"}


def test_smsby_maps_senders_to_alphaname_ids(fakes: Upstreams) -> None:
    p = provider(fakes, "smsby", alphaname_id="", alphanames={"ACME": 1363})
    submit(p, outbound(msisdn="375291234567"), outbound(msisdn="375291234567", sender="OTHER"))
    by_sender = sorted(s.body.get("alphaname_id", "system") for s in fakes.smsby.seen)
    assert by_sender == ["1363", "system"]  # no alphaname_id: sms.by's system name
    # as the CLI gives it: --option alphanames=ACME:1363,INFO:77
    assert provider(fakes, "smsby", alphanames="ACME:1363, INFO:77").alphanames == {
        "ACME": "1363",
        "INFO": "77",
    }


def test_eskiz_logs_in_then_sends_form_fields_with_the_bearer(fakes: Upstreams) -> None:
    p = provider(fakes, "eskiz")
    (result,) = submit(p, outbound(msisdn="+998901234567", text="Salom"))
    assert result.outcome is Outcome.SUBMITTED
    assert result.upstream_ids == (next(iter(fakes.eskiz.sent)),)
    login, send = fakes.eskiz.seen
    assert (login.path, login.content_type) == ("/api/auth/login", "multipart/form-data")
    assert login.body == {"email": fakes.eskiz.email, "password": fakes.eskiz.password}
    assert (send.path, send.content_type) == ("/api/message/sms/send", "multipart/form-data")
    assert send.headers["authorization"].removeprefix("Bearer ") in fakes.eskiz.tokens
    assert send.body == {
        "mobile_phone": "998901234567",
        "message": "Salom",
        "from": "ACME",
        "callback_url": CALLBACK,
    }


def test_eskiz_keeps_its_token_and_logs_in_again_when_it_expires(fakes: Upstreams) -> None:
    p = provider(fakes, "eskiz", sender="4546")
    msgs = [outbound(msisdn=NUMBERS["eskiz"], id=i) for i in range(5)]

    async def work(q: SeedProvider) -> list[SubmitResult]:
        first = await q.submit(msgs)  # five at once: one login
        fakes.eskiz.expire_tokens()
        return first + await q.submit(msgs[:2])  # a 401, one login again, then sent

    results = drive(p, work)
    assert [r.outcome for r in results] == [Outcome.SUBMITTED] * 7
    assert fakes.eskiz.logins == 2 and p.logins == 2
    assert p.healthy
    assert {s.body["from"] for s in fakes.eskiz.seen if s.path.endswith("/send")} == {"4546"}


@pytest.mark.parametrize(
    ("kind", "suffix"), [("devsms", "/api/"), ("smsby", "/api/v1"), ("eskiz", "/api")]
)
def test_a_base_url_with_the_api_prefix_works_too(fakes: Upstreams, kind: str, suffix: str) -> None:
    p = provider(fakes, kind, base_url=fakes.of(kind).url + suffix)
    (result,) = submit(p, outbound(msisdn=NUMBERS[kind]))
    assert result.outcome is Outcome.SUBMITTED


@pytest.mark.parametrize("kind", KINDS)
def test_a_long_message_is_one_upstream_message(fakes: Upstreams, kind: str) -> None:
    msg = outbound(msisdn=NUMBERS[kind], text="y" * 400)
    assert msg.parts == 3
    (result,) = submit(provider(fakes, kind), msg)
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    assert [s.text for s in fakes.of(kind).sent.values()] == ["y" * 400]


# --- refusals -----------------------------------------------------------------------------

REFUSALS = [
    # kind, fake mode, wrong secret?, outcome, code, healthy afterwards
    ("smsgic", "invalid", False, Outcome.PERMANENT, "smsgic_invalid", True),
    ("smsgic", "balance", False, Outcome.TRANSIENT, "smsgic_balance", False),
    ("smsgic", "ok", True, Outcome.TRANSIENT, "smsgic_auth", False),
    ("smsgic", "throttle", False, Outcome.TRANSIENT, "smsgic_throttled", True),
    ("smsgic", "down", False, Outcome.TRANSIENT, "smsgic_http_500", True),
    ("devsms", "invalid", False, Outcome.PERMANENT, "devsms_invalid", True),
    ("devsms", "balance", False, Outcome.TRANSIENT, "devsms_balance", False),
    ("devsms", "ok", True, Outcome.TRANSIENT, "devsms_auth", False),
    ("devsms", "throttle", False, Outcome.TRANSIENT, "devsms_throttled", True),
    ("devsms", "down", False, Outcome.TRANSIENT, "devsms_http_500", True),
    ("smsby", "invalid", False, Outcome.PERMANENT, "smsby_wrong_alphaname", True),
    ("smsby", "balance", False, Outcome.TRANSIENT, "smsby_balance", False),
    ("smsby", "ok", True, Outcome.TRANSIENT, "smsby_auth", False),
    ("smsby", "throttle", False, Outcome.TRANSIENT, "smsby_throttled", True),
    ("smsby", "down", False, Outcome.TRANSIENT, "smsby_http_500", True),
    ("eskiz", "invalid", False, Outcome.PERMANENT, "eskiz_invalid", True),
    ("eskiz", "balance", False, Outcome.TRANSIENT, "eskiz_balance", False),
    ("eskiz", "ok", True, Outcome.TRANSIENT, "eskiz_auth", False),
    ("eskiz", "throttle", False, Outcome.TRANSIENT, "eskiz_throttled", True),
    ("eskiz", "down", False, Outcome.TRANSIENT, "eskiz_http_500", True),
]


@pytest.mark.parametrize(("kind", "mode", "wrong", "outcome", "code", "healthy"), REFUSALS)
def test_refusals_map_to_outcomes_and_health(
    fakes: Upstreams,
    kind: str,
    mode: str,
    wrong: bool,
    outcome: Outcome,
    code: str,
    healthy: bool,
) -> None:
    fakes.of(kind).mode = mode
    p = provider(fakes, kind, "not-the-secret" if wrong else None)
    (result,) = submit(p, outbound(msisdn=NUMBERS[kind]))
    assert (result.outcome, result.error_code, result.upstream_ids) == (outcome, code, ())
    assert p.healthy is healthy
    assert p.last_error
    assert not fakes.of(kind).sent


def test_smsby_recognises_its_documented_errors(fakes: Upstreams) -> None:
    too_long = outbound(msisdn=NUMBERS["smsby"], text="z" * 1600)
    (result,) = submit(provider(fakes, "smsby"), too_long)
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "smsby_too_long")


def test_a_wrong_base_url_takes_the_connector_out_of_service(fakes: Upstreams) -> None:
    p = provider(fakes, "smsgic", base_url=f"{fakes.smsgic.url}/v9")
    (result,) = submit(p, outbound())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "smsgic_http_404")
    assert not p.healthy


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_api_is_transient(fakes: Upstreams, kind: str) -> None:
    p = provider(fakes, kind, base_url=f"http://127.0.0.1:{free_port()}")
    (result,) = submit(p, outbound(msisdn=NUMBERS[kind]))
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "http_unreachable")


@pytest.mark.parametrize("kind", KINDS)
def test_an_unhealthy_connector_recovers_once_the_upstream_can_pay(
    fakes: Upstreams, kind: str
) -> None:
    fake = fakes.of(kind)
    fake.mode = "balance"
    p = provider(fakes, kind, health_interval=0.05)
    msg = outbound(msisdn=NUMBERS[kind])

    async def work(q: SeedProvider) -> list[Any]:
        (refused,) = await q.submit([msg])
        assert not q.healthy
        fake.mode, fake.balance = "ok", 0.0
        await asyncio.sleep(0.3)
        assert not q.healthy  # the probe sees an empty balance
        fake.balance = 120.0
        await until(lambda: q.healthy)
        return [refused, *(await q.submit([msg]))]

    refused, sent = drive(p, work)
    assert refused.error_code == f"{kind}_balance"
    assert sent.outcome is Outcome.SUBMITTED


def test_eskiz_recovers_when_the_login_works_again(fakes: Upstreams) -> None:
    p = provider(fakes, "eskiz", health_interval=0.05)
    secret = p.secret
    fakes.eskiz.password = "changed-at-eskiz"  # the connector's secret is refused now

    async def work(q: SeedProvider) -> bool:
        refused = await q.submit([outbound(msisdn=NUMBERS["eskiz"], id=i) for i in range(4)])
        assert {r.error_code for r in refused} == {"eskiz_auth"} and not q.healthy
        assert "login refused: 401" in (q.last_error or "")
        assert [s.path for s in fakes.eskiz.seen] == ["/api/auth/login"]  # tried once
        fakes.eskiz.password = secret
        await until(lambda: q.healthy)  # a login works again
        (sent,) = await q.submit([outbound(msisdn=NUMBERS["eskiz"])])
        return sent.outcome is Outcome.SUBMITTED

    assert drive(p, work)


# --- status by polling --------------------------------------------------------------------

POLLED = [
    ("smsgic", MessageStatus.REJECTED, "smsgic_cancelled"),
    ("devsms", MessageStatus.UNDELIVERABLE, "devsms_undeliverable"),
    ("smsby", MessageStatus.UNDELIVERABLE, "smsby_undelivered"),
    ("eskiz", MessageStatus.UNDELIVERABLE, "eskiz_undeliv"),
]


@pytest.mark.parametrize(("kind", "failed", "code"), POLLED)
def test_polling_reads_final_statuses(
    fakes: Upstreams, kind: str, failed: MessageStatus, code: str
) -> None:
    fakes.of(kind).pending_polls = 1
    p = provider(fakes, kind)
    good, bad = outbound(msisdn=NUMBERS[kind], id=1), outbound(msisdn=failing(kind), id=2)

    async def work(q: SeedProvider) -> tuple[list[Receipt], list[Receipt]]:
        results = await q.submit([good, bad])
        ids = [r.upstream_ids[0] for r in results] + ["424242"]  # the last one is unknown
        return await q.poll(ids), await q.poll(ids)

    first, second = drive(p, work)
    assert first == []  # not final yet (Pending, waiting, SENT, ACCEPTD)
    assert [(r.connector, r.status, r.error_code) for r in second] == [
        (f"up-{kind}", MessageStatus.DELIVERED, None),
        (f"up-{kind}", failed, code),
    ]
    assert p.healthy  # an unknown id is no verdict on the connector


def test_smsgic_polls_get_sendings_by_id(fakes: Upstreams) -> None:
    p = provider(fakes, "smsgic")

    async def work(q: SeedProvider) -> list[Receipt]:
        (result,) = await q.submit([outbound()])
        return await q.poll(result.upstream_ids)

    drive(p, work)
    poll = fakes.smsgic.seen[-1]
    assert (poll.method, poll.path) == ("GET", "/sendings/1001")
    assert poll.headers["authorization"] == f"Bearer {fakes.smsgic.token}"


def test_smsby_reads_the_older_check_sms_answer(fakes: Upstreams) -> None:
    fakes.smsby.legacy_check, fakes.smsby.pending_polls = True, 0
    p = provider(fakes, "smsby")

    async def work(q: SeedProvider) -> list[Receipt]:
        results = await q.submit([outbound(msisdn=NUMBERS["smsby"])])
        return await q.poll([r.upstream_ids[0] for r in results])

    (receipt,) = drive(p, work)
    assert receipt.status is MessageStatus.DELIVERED
    check = fakes.smsby.seen[-1]
    assert check.path == "/api/v1/checkSMS"
    assert check.query == {"token": fakes.smsby.token, "sms_id": receipt.upstream_id}


def test_the_poll_loop_feeds_the_receipt_sink(fakes: Upstreams) -> None:
    fakes.smsgic.pending_polls = 0
    p = provider(fakes, "smsgic", poll_interval=0.05)
    got: list[Receipt] = []
    pending: list[str] = []

    async def waiting() -> list[str]:
        return [i for i in pending if i not in {r.upstream_id for r in got}]

    p.pending = waiting

    async def work(q: SeedProvider) -> None:
        for result in await q.submit([outbound(id=1), outbound(id=2)]):
            pending.extend(result.upstream_ids)
        await until(lambda: len(got) == 2)

    drive(p, work, got)
    assert {r.status for r in got} == {MessageStatus.DELIVERED}


def test_polls_take_turns_through_a_long_backlog(fakes: Upstreams) -> None:
    fakes.smsgic.pending_polls = 100
    p = provider(fakes, "smsgic", poll_batch=2)

    async def work(q: SeedProvider) -> None:
        results = await q.submit([outbound(id=i) for i in range(3)])
        ids = [r.upstream_ids[0] for r in results]
        for _ in range(3):
            await q.poll(ids)

    drive(p, work)
    polled = [s.path.rsplit("/", 1)[1] for s in fakes.smsgic.seen if s.method == "GET"]
    assert sorted(polled) == ["1001", "1001", "1002", "1002", "1003", "1003"]


def test_poll_intervals_come_from_the_options(fakes: Upstreams) -> None:
    assert provider(fakes, "smsgic").poll_interval == 30.0
    assert provider(fakes, "smsby", poll_interval=2).poll_interval == 2.0
    assert provider(fakes, "devsms").poll_interval == 60.0
    assert provider(fakes, "devsms", poll_interval=0).poll_interval is None  # callbacks only
    assert provider(fakes, "eskiz").poll_interval is None  # callbacks; polling on request
    assert provider(fakes, "eskiz", poll_interval="5").poll_interval == 5.0


# --- callbacks ----------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (
            json.dumps({"sms_id": 123, "request_id": "u-1", "status": "DELIVERED"}),
            JSON,
            MessageStatus.DELIVERED,
            None,
        ),
        (
            urlencode({"sms_id": "123", "status": "UNDELIVERABLE"}),
            FORM,
            MessageStatus.UNDELIVERABLE,
            "devsms_undeliverable",
        ),
        (
            json.dumps({"sms_id": 123, "status": "REJECTED"}),
            {},  # no Content-Type: still read as JSON
            MessageStatus.REJECTED,
            "devsms_rejected",
        ),
        (  # Eskiz's words, which devsms.uz may pass on
            json.dumps({"sms_id": "123", "status": "UNDELIV"}),
            JSON,
            MessageStatus.UNDELIVERABLE,
            "devsms_undeliv",
        ),
        (  # smsgate's own webhook, when reselling through another smsgate
            json.dumps(
                {
                    "event": "message.status",
                    "message_id": 123,
                    "status": "undeliverable",
                    "surface": "devsms",
                    "surface_status": "UNDELIVERABLE",
                    "error_code": "no_receipt",
                }
            ),
            JSON,
            MessageStatus.UNDELIVERABLE,
            "devsms_no_receipt",
        ),
    ],
)
def test_devsms_callbacks_map_to_receipts(
    body: str, headers: dict[str, str], status: MessageStatus, error: str | None
) -> None:
    (receipt,) = DevsmsProvider.parse_callback("dv", body.encode(), headers, {})
    assert (receipt.connector, receipt.upstream_id) == ("dv", "123")
    assert (receipt.status, receipt.error_code) == (status, error)


@pytest.mark.parametrize(
    "payload",
    [
        {"sms_id": 123, "status": "waiting"},
        {"sms_id": 123, "status": "ACCEPTED"},
        {"message_id": 123, "status": "submitted", "surface_status": "ACCEPTED"},
        {"request_id": "only-the-eskiz-id", "status": "DELIVERED"},  # cannot be matched
        {"sms_id": "x" * 81, "status": "DELIVERED"},  # longer than any upstream id
    ],
)
def test_devsms_callbacks_that_say_nothing_final_are_ignored(payload: dict[str, Any]) -> None:
    assert DevsmsProvider.parse_callback("dv", json.dumps(payload).encode(), JSON, {}) == []


@pytest.mark.parametrize(
    ("status", "final", "error"),
    [
        ("DELIVRD", MessageStatus.DELIVERED, None),
        ("DELIVERED", MessageStatus.DELIVERED, None),
        ("delivered", MessageStatus.DELIVERED, None),
        ("UNDELIV", MessageStatus.UNDELIVERABLE, "eskiz_undeliv"),
        ("EXPIRED", MessageStatus.UNDELIVERABLE, "eskiz_expired"),
        ("REJECTD", MessageStatus.REJECTED, "eskiz_rejectd"),
        ("rejected", MessageStatus.REJECTED, "eskiz_rejected"),
    ],
)
def test_eskiz_callbacks_map_to_receipts(status: str, final: MessageStatus, error: str) -> None:
    payload = {"request_id": "e837dec2", "message_id": 4385062, "status": status}
    (receipt,) = EskizProvider.parse_callback("es", json.dumps(payload).encode(), JSON, {})
    assert (receipt.upstream_id, receipt.status, receipt.error_code) == ("e837dec2", final, error)


def test_eskiz_callbacks_as_forms() -> None:
    form = urlencode({"request_id": "e837dec2", "status": "DELIVRD"}).encode()
    (receipt,) = EskizProvider.parse_callback("es", form, FORM, {})
    assert receipt.status is MessageStatus.DELIVERED
    multipart = httpx.Request(
        "POST", "http://x/", files={"request_id": (None, "e837dec2"), "status": (None, "UNDELIV")}
    )
    body = multipart.read()
    (receipt,) = EskizProvider.parse_callback("es", body, dict(multipart.headers), {})
    assert (receipt.upstream_id, receipt.status) == ("e837dec2", MessageStatus.UNDELIVERABLE)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"request_id": "e837dec2", "status": "waiting"}).encode(),
        json.dumps({"request_id": "e837dec2", "status": "ACCEPTD"}).encode(),
        json.dumps({"request_id": "e837dec2", "status": "partdelivered"}).encode(),
        json.dumps({"status": "DELIVRD"}).encode(),
        b"\xff\xfe not json",
        b"[1, 2]",
        b"",
    ],
)
def test_eskiz_callbacks_that_say_nothing_final_are_ignored(body: bytes) -> None:
    assert EskizProvider.parse_callback("es", body, JSON, {}) == []


def test_polling_providers_take_no_callbacks() -> None:
    body = json.dumps({"sending_id": 1, "status": "DELIVERED"}).encode()
    assert SmsgicProvider.parse_callback("g", body, JSON, {}) == []
    assert SmsbyProvider.parse_callback("b", body, JSON, {}) == []


def test_the_kinds_and_their_required_options(db: Database) -> None:
    assert {"smsgic", "devsms", "smsby", "eskiz"} <= set(load_providers())
    assert EskizProvider.required == ("base_url", "email")
    with db.write() as s, pytest.raises(InvalidRequest, match="needs email"):
        add_connector(s, "es", "eskiz", {"base_url": "https://notify.eskiz.uz"}, "pw")


# --- end to end ---------------------------------------------------------------------------


def _all_final(
    client: httpx.Client, headers: dict[str, str], sent: dict[str, dict[str, Any]]
) -> Callable[[], dict[str, dict[str, Any]] | None]:
    def probe() -> dict[str, dict[str, Any]] | None:
        got = {
            key: client.get(f"/v1/messages/{m['id']}", headers=headers).json()
            for key, m in sent.items()
        }
        done = all(g["status"] not in ("queued", "submitted") for g in got.values())
        return got if done else None

    return probe


def test_the_seed_upstreams_deliver_end_to_end(
    db: Database, settings: Settings, server: str, client: httpx.Client, fakes: Upstreams
) -> None:
    customer = make_customer(db, balance=Decimal("10"))
    back = f"{server}/v1/callbacks"
    with db.write() as s:
        opts = fakes.options
        add_connector(
            s, "gic", "smsgic", opts("smsgic") | {"poll_interval": 0.2}, fakes.secret("smsgic")
        )
        dev = add_connector(  # callbacks only: polling off
            s,
            "dev",
            "devsms",
            opts("devsms") | {"callback_url": f"{back}/dev", "poll_interval": 0},
            fakes.secret("devsms"),
        )
        add_connector(
            s, "by", "smsby", opts("smsby") | {"poll_interval": 0.2}, fakes.secret("smsby")
        )
        esk = add_connector(
            s,
            "esk",
            "eskiz",
            opts("eskiz") | {"callback_url": f"{back}/esk"},
            fakes.secret("eskiz"),
        )
        # the option's URL followed by the connector's callback token, shown at creation
        dev_url, esk_url = (new_callback_url(c, settings) for c in (dev, esk))
        for name, prefix in [("gic", "37121"), ("dev", "99890"), ("by", "37529"), ("esk", "99891")]:
            add_route(s, name, prefix=prefix)
    time.sleep(2.5)  # the API and the dispatcher read connectors and routes every 2 s

    sends = {
        "gic": ("+37121000001", "SMSgic splits this itself. " * 12 + "Done."),  # 3 parts, 1 id
        "dev": ("+998901234567", "Salom devsms"),
        "dev-fails": ("+998901234599", "Undeliverable at devsms"),
        "by": ("+375291234567", "Привет из smsgate"),
        "esk": ("+998911234567", "Salom Eskiz"),
        "esk-fails": ("+998911234599", "Undeliverable at Eskiz"),
    }
    sent: dict[str, dict[str, Any]] = {}
    charged = Decimal(0)
    for key, (to, text) in sends.items():
        answer = client.post(
            "/v1/messages",
            headers=customer.headers,
            json={"to": to, "text": text, "sender": customer.sender},
        )
        assert answer.status_code == 200, answer.text
        (sent[key],) = answer.json()["messages"]
        charged = Decimal(answer.json()["balance"])
    assert sent["gic"]["parts"] == 3

    outcome = wait_for(_all_final(client, customer.headers, sent), timeout=30, interval=0.1)
    assert {k: v["status"] for k, v in outcome.items()} == {
        "gic": "delivered",
        "dev": "delivered",
        "dev-fails": "undeliverable",
        "by": "delivered",
        "esk": "delivered",
        "esk-fails": "undeliverable",
    }
    assert outcome["dev-fails"]["error_code"] == "devsms_undeliverable"
    assert outcome["esk-fails"]["error_code"] == "eskiz_undeliv"
    with db.read() as s:
        assert {k: s.get_one(Message, m["id"]).connector for k, m in sent.items()} == {
            "gic": "gic",
            "dev": "dev",
            "dev-fails": "dev",
            "by": "by",
            "esk": "esk",
            "esk-fails": "esk",
        }
        # receipts moved statuses only: no charge, no refund
        assert ledger.balance(s, customer.account_id) == charged
        assert ledger.balance(s, customer.account_id) == ledger.entries_total(
            s, customer.account_id
        )
    # one upstream message per message; devsms.uz and Eskiz called smsgate back
    assert len(fakes.smsgic.sent) == 1 and fakes.smsgic.sent["1001"].text == sends["gic"][1]
    assert [len(fakes.of(k).sent) for k in ("devsms", "smsby", "eskiz")] == [2, 1, 2]
    assert dev_url and dev_url.startswith(f"{back}/dev/")
    assert esk_url and esk_url.startswith(f"{back}/esk/")
    assert [c[2] for c in fakes.devsms.callbacks if c[0] == dev_url] == [200, 200]
    assert [c[2] for c in fakes.eskiz.callbacks if c[0] == esk_url] == [200, 200]
    assert not any(s.path.endswith("get_status.php") for s in fakes.devsms.seen)


def test_smsgate_resells_through_another_smsgate(
    db: Database,
    server: str,
    client: httpx.Client,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    """The outer smsgate (the ``server`` fixture) has connectors to the SMSgic, devsms.uz and
    sms.by surfaces of an inner smsgate, whose simulator delivers; the inner one's webhook
    reports back to the outer one's callback URL for devsms.uz."""
    inner_file = tmp_path / "inner.db"
    shutil.copyfile(sqlite_template, inner_file)
    inner_settings = Settings(
        database_url=f"sqlite:///{inner_file}",
        simulator_delay=0.05,
        demo=False,
        dispatch_idle_seconds=0.02,
        retry_base_seconds=0.05,
        webhooks_allow_private=True,
        webhooks_idle_seconds=0.05,
    )
    inner_db = Database(inner_settings.database_url)
    try:
        make_plan(inner_db)
        wholesale = make_customer(inner_db, balance=Decimal("10"), name="Reseller")
        with running_server(inner_settings) as inner:
            alphaname = httpx.get(
                f"{inner}/api/v1/getAlphanameId",
                params={"token": wholesale.token, "name": wholesale.sender},
            ).json()["id"]
            customer = make_customer(db, balance=Decimal("10"))
            with db.write() as s:
                add_connector(
                    s,
                    "via-gic",
                    "smsgic",
                    {"base_url": inner, "poll_interval": 0.2},
                    wholesale.token,
                )
                add_connector(
                    s,
                    "via-dev",
                    "devsms",
                    {
                        "base_url": inner,
                        "callback_url": f"{server}/v1/callbacks/via-dev",
                        "poll_interval": 0,
                    },
                    wholesale.token,
                )
                add_connector(
                    s,
                    "via-by",
                    "smsby",
                    {"base_url": inner, "alphaname_id": str(alphaname), "poll_interval": 0.2},
                    wholesale.token,
                )
                add_route(s, "via-gic", prefix="37121")
                add_route(s, "via-dev", prefix="99890")
                add_route(s, "via-by", prefix="37529")
            time.sleep(2.5)
            sends = {
                "via-gic": "+37121000002",
                "via-dev": "+998901234568",
                "via-by": "+375291234568",
            }
            sent: dict[str, dict[str, Any]] = {}
            for key, to in sends.items():
                answer = client.post(
                    "/v1/messages",
                    headers=customer.headers,
                    json={"to": to, "text": f"resold via {key}", "sender": customer.sender},
                )
                assert answer.status_code == 200, answer.text
                (sent[key],) = answer.json()["messages"]
            outcome = wait_for(_all_final(client, customer.headers, sent), timeout=30)
            assert {k: v["status"] for k, v in outcome.items()} == dict.fromkeys(sends, "delivered")
            with db.read() as s:
                assert {k: s.get_one(Message, m["id"]).connector for k, m in sent.items()} == {
                    k: k for k in sends
                }
        with inner_db.read() as s:
            resold = list(s.query(Message).filter(Message.account_id == wholesale.account_id))
            assert sorted(m.msisdn.lstrip("+") for m in resold) == sorted(
                n.lstrip("+") for n in sends.values()
            )
            assert {m.status for m in resold} == {MessageStatus.DELIVERED}
            assert {m.surface for m in resold} == {"smsgic", "devsms", "smsby"}
            # the reseller's account at the inner smsgate paid for the three
            assert ledger.balance(s, wholesale.account_id) < Decimal("10")
    finally:
        inner_db.dispose()
