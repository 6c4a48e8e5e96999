"""One request whose processing raises inside a group-commit batch fails alone: the ~20
requests that shared its batch succeed, each charged once, and the bad one gets a clear
error in its surface's shape. A real server over loopback, on both engines.

The failure is injected with a monkeypatch of ``accept_batch`` in the in-process server: the
real one runs first (its writes are in the batch's transaction, which must be rolled back),
then the batch raises if it holds the bad number. A first request holds the writer while
the others queue, so that they all meet in one batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.app import create_app
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.messaging import service
from smsgate.messaging.models import Message
from smsgate.messaging.prepare import PreparedSend
from smsgate.senders.service import request_sender
from tests.hardening.outage import served_logs
from tests.scale.cluster import check_ledger
from tests.support.factories import Customer, make_customer
from tests.support.server import serving
from tests.support.waiting import wait_for

HOLD = "37129000000"  # the first request: holds the writer until the others have queued
BAD = "37129000999"  # the request whose batch raises
GOOD = 20
OPENING = Decimal(100)
DEVSMS_SENDER = "4546"  # devsms.uz's default `from`, approved for the customer below


class Injected(RuntimeError):
    pass


def _numbers(batch: Sequence[PreparedSend]) -> set[str]:
    return {d.msisdn for prepared in batch for d in prepared.destinations}


def _request(surface: str, number: str, c: Customer) -> tuple[str, dict[str, Any]]:
    if surface == "native":
        return "/v1/messages", {"to": f"+{number}", "text": "good", "sender": c.sender}
    if surface == "smsgic":
        return "/sendings", {"recipients": [number], "message": "good", "sender": c.sender}
    if surface == "devsms":
        return "/api/send_sms.php", {"phone": number, "message": "good", "from": c.sender}
    return "/api/v1/sendQuickSMS", {"phone": number, "message": "good"}


def _ok(surface: str, answer: httpx.Response) -> bool:
    if answer.status_code not in (200, 201):
        return False
    body = answer.json()
    return body.get("success", True) is not False and "error" not in body


def _refused_in_shape(surface: str, answer: httpx.Response) -> None:
    assert answer.status_code == 500, answer.text
    assert "Traceback" not in answer.text and "Injected" not in answer.text
    body = answer.json()
    if surface == "native":
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == 500 and body["code"] == "internal" and body["detail"]
    else:  # devsms.uz
        assert body["success"] is False and body["error"] and set(body) == {"success", "error"}


@pytest.mark.parametrize("bad_surface", ["native", "devsms"])
def test_one_bad_request_fails_alone_in_its_batch(
    settings: Settings,
    db: Database,
    plan: str,
    bad_surface: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = make_customer(db, balance=OPENING)
    with db.write() as session:
        request_sender(session, c.account_id, DEVSMS_SENDER, approved=True)
    holding, release = threading.Event(), threading.Event()
    batches: list[tuple[int, bool]] = []  # (size, raised)
    real = service.accept_batch

    def accept_batch(session: Any, batch: Sequence[PreparedSend], *a: Any, **kw: Any) -> Any:
        outcomes = real(session, batch, *a, **kw)  # written, then rolled back if we raise
        numbers = _numbers(batch)
        if HOLD in numbers:
            holding.set()
            release.wait(20)
        batches.append((len(batch), BAD in numbers))
        if BAD in numbers:
            raise Injected("injected: this request breaks every batch it is in")
        return outcomes

    monkeypatch.setattr(service, "accept_batch", accept_batch)
    app = create_app(settings, dispatch=False)
    surfaces = ["native", "smsgic", "devsms", "smsby"]
    good = [f"371290{n:05d}" for n in range(1, GOOD + 1)]
    with served_logs(), serving(app) as url, ThreadPoolExecutor(GOOD + 2) as pool:
        limits = httpx.Limits(max_connections=GOOD + 2)
        with httpx.Client(base_url=url, timeout=60, limits=limits, headers=c.headers) as http:

            def send(surface: str, number: str) -> httpx.Response:
                path, body = _request(surface, number, c)
                return http.post(path, json=body)

            holder = pool.submit(send, "native", HOLD)
            assert holding.wait(20), "the first request never reached the writer"
            calls = [pool.submit(send, surfaces[n % 4], n_) for n, n_ in enumerate(good)]
            calls.append(pool.submit(send, bad_surface, BAD))
            queue = app.state.runtime.sends._batcher._queue
            wait_for(lambda: queue.qsize() == GOOD + 1, timeout=30)
            release.set()
            answers = [f.result() for f in calls]
            assert _ok("native", holder.result())
    *good_answers, bad_answer = answers
    failed = [(n, a.status_code, a.text) for n, a in zip(good, good_answers, strict=True)]
    assert all(_ok(surfaces[i % 4], a) for i, a in enumerate(good_answers)), failed
    _refused_in_shape(bad_surface, bad_answer)
    # the held batch, the one that failed with all 21, then each of them alone
    assert batches[:2] == [(1, False), (GOOD + 1, True)]
    assert sorted(batches[2:]) == [(1, False)] * GOOD + [(1, True)]
    with db.read() as session:
        stored = list(session.scalars(select(Message.msisdn).order_by(Message.id)))
        assert session.scalar(select(func.count()).select_from(Message)) == GOOD + 1
    assert sorted(stored) == sorted([HOLD, *good]) and BAD not in stored
    # balance = sum of entries = opening - the stored messages' prices, one charge per request
    check_ledger(db, [c], [OPENING])
