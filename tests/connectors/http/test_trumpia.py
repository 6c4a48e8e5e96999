"""The Trumpia provider against a local fake of the REST API (Direct SMS and status reports)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from smsgate.connectors.base import Outcome, Receipt
from smsgate.connectors.http.base import HttpProvider
from smsgate.connectors.http.trumpia import TrumpiaProvider
from smsgate.messaging.status import MessageStatus
from tests.connectors.http.fakes_intl import FakeTrumpia, drive, outbound, running, submit


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTrumpia]:
    with running(FakeTrumpia()) as served:
        assert isinstance(served, FakeTrumpia)
        yield served


@pytest.fixture(autouse=True)
def _fresh(fake: FakeTrumpia) -> None:
    fake.mode = "ok"
    fake.processing_reports = 1
    fake.seen.clear()


def provider(fake: FakeTrumpia, secret: str | None = None, **options: Any) -> TrumpiaProvider:
    config = {"base_url": fake.url, "user_name": fake.user_name} | options
    return TrumpiaProvider("tp", config, fake.api_key if secret is None else secret)


def test_submit_puts_a_direct_sms(fake: FakeTrumpia) -> None:
    (result,) = submit(provider(fake), outbound(text="Hello from smsgate"))
    assert result.outcome is Outcome.SUBMITTED and len(result.upstream_ids) == 1
    assert result.upstream_ids[0] in fake.requests  # the request_id
    (seen,) = fake.seen
    assert (seen.method, seen.path) == ("PUT", f"/rest/v1/{fake.user_name}/sms")
    assert seen.headers["x-apikey"] == fake.api_key
    assert seen.body == {
        "mobile_number": "+37126123456",
        "country_code": "0",
        "message": "Hello from smsgate",
    }  # "ACME" is no short code: Trumpia's default sender is used


def test_numeric_senders_and_options_are_passed(fake: FakeTrumpia) -> None:
    submit(provider(fake), outbound(sender="99000"))
    assert fake.seen[-1].body["sender"] == "99000"
    submit(provider(fake, sender="12345", org_name_id="77"), outbound(text="w" * 400))
    assert fake.seen[-1].body["sender"] == "12345"
    assert fake.seen[-1].body["org_name_id"] == "77"


@pytest.mark.parametrize(
    ("mode", "secret", "outcome", "code"),
    [
        ("invalid_number", None, Outcome.PERMANENT, "trumpia_MPCE0303"),
        ("ok", "wrong-key", Outcome.PERMANENT, "trumpia_MPCE0101"),
        ("throttle", None, Outcome.TRANSIENT, "trumpia_MPCE0429"),
        ("down", None, Outcome.TRANSIENT, "trumpia_http_503"),
    ],
)
def test_refusals_map_to_outcomes(
    fake: FakeTrumpia, mode: str, secret: str | None, outcome: Outcome, code: str
) -> None:
    fake.mode = mode
    (result,) = submit(provider(fake, secret), outbound())
    assert (result.outcome, result.error_code, result.upstream_ids) == (outcome, code, ())


def test_status_reports_are_polled_until_final(fake: FakeTrumpia) -> None:
    async def work(p: HttpProvider) -> list[list[Receipt]]:
        ok, blocked = await p.submit([outbound(id=1), outbound("37126123499", id=2)])
        ids = [*ok.upstream_ids, *blocked.upstream_ids]
        first = await p.poll(ids)  # both still being processed
        second = await p.poll([*ids, "unknown-request"])
        return [first, second]

    first, second = drive(provider(fake), work)
    assert first == []
    assert [(r.status, r.error_code) for r in second] == [
        (MessageStatus.DELIVERED, None),
        (MessageStatus.REJECTED, "trumpia_MRME0551"),
    ]
    reports = [s for s in fake.seen if s.method == "GET"]
    assert reports and all(s.headers["x-apikey"] == fake.api_key for s in reports)
    assert reports[0].path.startswith(f"/rest/v1/{fake.user_name}/report/")


def test_the_poll_loop_reports_what_the_dispatcher_waits_for(fake: FakeTrumpia) -> None:
    receipts: list[Receipt] = []

    async def work(p: HttpProvider) -> None:
        (result,) = await p.submit([outbound()])
        waiting = list(result.upstream_ids)

        async def pending() -> list[str]:
            return [w for w in waiting if w not in {r.upstream_id for r in receipts}]

        p.pending = pending
        for _ in range(200):
            if receipts:
                return
            await asyncio.sleep(0.01)

    p = provider(fake, poll_interval=0.05)
    assert p.poll_interval == 0.05
    drive(p, work, receipts)
    assert [(r.connector, r.status) for r in receipts] == [("tp", MessageStatus.DELIVERED)]


def test_a_long_backlog_is_polled_in_turns(fake: FakeTrumpia) -> None:
    fake.processing_reports = 100  # nothing becomes final here
    p = provider(fake, poll_batch=2)

    async def work(q: HttpProvider) -> None:
        for _ in range(3):
            await q.poll(["a", "b", "c", "d", "e"])

    drive(p, work)
    asked = [s.path.rsplit("/", 1)[1] for s in fake.seen if s.method == "GET"]
    assert sorted(asked) == ["a", "a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"status": "sent", "sms_id": 1}, (MessageStatus.DELIVERED, None)),
        ({"status_code": "MPCE4001"}, None),
        ({"status_code": "MRME1054"}, (MessageStatus.REJECTED, "trumpia_MRME1054")),
        ({"status": "failed"}, (MessageStatus.UNDELIVERABLE, "trumpia_failed")),
        ({}, None),
    ],
)
def test_report_bodies_map_to_receipts(
    report: dict[str, Any], expected: tuple[MessageStatus, str | None] | None
) -> None:
    receipt = TrumpiaProvider.receipt("tp", "r1", report)
    assert (receipt and (receipt.status, receipt.error_code)) == expected
