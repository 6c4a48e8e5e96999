"""Kill -9 at random moments: a dispatcher while messages flow to an SMPP peer, and the API
while requests are in flight. Nothing answered is lost, nothing is charged twice.

Each run draws its kill moments from a seed it prints (``SMSGATE_TEST_SEED`` replays one).
The default suite flows 1,000 messages (dispatcher kills) and up to 1,000 requests (the API
is killed once a quarter to a half of them succeeded); ``--runslow`` runs 10,000 of each.
The rules these tests hold are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from smsgate.billing import ledger
from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.connectors.base import Receipt
from smsgate.connectors.smpp import SmppConnector
from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.messaging.status import MessageStatus
from tests.connectors import fake_smsc
from tests.connectors.test_smpp_client import message, until
from tests.scale.cluster import (
    DISPATCH_BATCH,
    Cluster,
    Proc,
    check_all_delivered,
    check_ledger,
    connect_smsc,
    leased_by,
    numbers,
    seed_for_run,
    send_load,
    settled,
    wait_all_final,
)
from tests.support.factories import Customer, make_customer
from tests.support.npm_smsc import running_smsc
from tests.support.waiting import wait_for

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
FLOW = [1_000, pytest.param(10_000, marks=pytest.mark.slow, id="10000")]
REQUESTS = [1_000, pytest.param(10_000, marks=pytest.mark.slow, id="10000")]


# --- kill -9 a dispatcher --------------------------------------------------------------------


def _kill_at_random(
    db: Database, cluster: Cluster, rng: random.Random, live: list[Proc], total: int
) -> list[set[str]]:
    """Two or three kills, each once a random share of the messages has reached the SMSC
    and the flow has moved on since the last kill, each followed by a new worker; returns
    what each victim had claimed and not recorded."""
    kills = rng.choice([2, 3])
    windows: list[set[str]] = []
    done = 0
    for share in sorted(rng.uniform(0.1, 0.8) for _ in range(kills)):
        floor = max(share * total, done + 1)

        def reached(floor: float = floor) -> int:
            n = settled(db)
            return n if n >= floor else 0

        done = wait_for(reached, timeout=300, interval=0.05)
        time.sleep(rng.uniform(0, 0.3))
        victim = rng.choice(live)
        cluster.kill(victim)
        windows.append({n.lstrip("+") for n in leased_by(db, victim.pid)})
        print(f"killed {victim.name} at {done}/{total}: {len(windows[-1])} claimed")
        live[live.index(victim)] = cluster.worker()
    return windows


def _kill_workers(
    db: Database, db_url: str, modules: Path, tmp_path: Path, total: int, workers: int
) -> None:
    rng = random.Random(seed_for_run())
    opening = Decimal(total) * Decimal("0.05")
    customer = make_customer(db, balance=opening)
    to = numbers(total)
    record = tmp_path / "submits.txt"
    with running_smsc(modules, record=record) as smsc:
        connect_smsc(db, smsc, binds=2, window=50)
        with Cluster(db_url, tmp_path) as cluster:
            _, base = cluster.api()
            live = [cluster.worker() for _ in range(workers)]
            started = time.monotonic()
            with ThreadPoolExecutor(1) as pool:
                load = pool.submit(
                    asyncio.run,
                    send_load([base], [customer], to, singles=total // 10, chunk=total // 10),
                )
                windows = _kill_at_random(db, cluster, rng, live, total)
                load.result(timeout=600)
            wait_all_final(db, total, timeout=120 + total / 50)
            counters = smsc.stats()
            cluster.stop()
            assert not cluster.failures(), "\n".join(cluster.failures())
    print(f"{total} final {time.monotonic() - started:.1f} s after the first request; {counters}")
    twice = check_all_delivered(db, to, record)
    window = set().union(*windows)
    print(f"sent twice: {len(twice)}; claimed by the killed workers: {len(window)}")
    assert set(twice) <= window, "a duplicate outside the at-least-once window"
    assert len(twice) <= len(windows) * DISPATCH_BATCH
    assert counters["bound_max"] == 2  # never two workers bound to the connector at once
    check_ledger(db, [customer], [opening])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("total", FLOW)
def test_kill_9_the_worker_on_sqlite(
    db_url: str, db: Database, plan: str, npm_smpp: Path, tmp_path: Path, total: int
) -> None:
    _kill_workers(db, db_url, npm_smpp, tmp_path, total, workers=1)


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
@pytest.mark.parametrize("total", FLOW)
def test_kill_9_one_of_two_workers_on_postgres(
    db_url: str, db: Database, plan: str, npm_smpp: Path, tmp_path: Path, total: int
) -> None:
    _kill_workers(db, db_url, npm_smpp, tmp_path, total, workers=2)


class GatedSink:
    """A receipt sink that fails its first call (a database that is down) and then records
    only once let through."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0
        self.receipts: list[Receipt] = []

    async def __call__(self, batch: Sequence[Receipt]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("database down")
        await self.gate.wait()
        self.receipts.extend(batch)


def test_a_receipt_is_answered_only_once_recorded() -> None:
    """What makes a kill between a receipt's arrival and its commit harmless: the SMSC has no
    deliver_sm_resp yet, so it sends the receipt again to whoever binds next."""

    async def scenario() -> None:
        async with fake_smsc.happy("text") as smsc:
            conn = SmppConnector("up", "127.0.0.1", smsc.port, "user", "secret")
            sink = GatedSink()
            await conn.start(sink)
            try:
                await until(lambda: all(s.bound for s in conn.sessions))
                results = await conn.submit([message(n) for n in range(1, 11)])
                await until(lambda: sink.calls >= 2)  # failed once, retried a second later
                assert smsc.deliver_sent == 10 and smsc.deliver_resps == []
                sink.gate.set()
                await until(lambda: len(smsc.deliver_resps) == 10)
                assert {r.status for r in smsc.deliver_resps} == {0}
                sent = sorted(uid for r in results for uid in r.upstream_ids)
                assert sorted(r.upstream_id for r in sink.receipts) == sent
            finally:
                await conn.stop()

    asyncio.run(asyncio.wait_for(scenario(), 15))


# --- kill -9 the API -------------------------------------------------------------------------


@dataclass
class Outcomes:
    """Per destination number: the message id a success answer gave, the status of an error
    answer, or no answer at all."""

    ok: dict[str, int] = field(default_factory=dict)
    error: dict[str, int] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)


def _request(n: int, number: str, c: Customer) -> tuple[str, dict[str, str]]:
    """Every other request goes to the devsms.uz surface; one in ten names a sender the
    account does not have, which must be refused (4xx) and charge nothing."""
    sender = "NOTMINE" if n % 10 == 9 else c.sender
    if n % 2:
        return "/api/send_sms.php", {"phone": number, "message": f"kill {n}", "from": sender}
    return "/v1/messages", {"to": number, "text": f"kill {n}", "sender": sender}


def _answered_id(path: str, r: httpx.Response) -> int | None:
    if r.status_code != 200:
        return None
    body = r.json()
    if path == "/v1/messages":
        return int(body["messages"][0]["id"])
    assert body["success"] is True, body
    return int(body["data"]["sms_id"])


async def _flood(base: str, c: Customer, to: list[str], kill: int, api: Proc) -> Outcomes:
    """Send the numbers at 64 requests in flight; SIGKILL the API at the ``kill``-th
    success, so the requests in flight then get no answer (those not started are not sent)."""
    out = Outcomes()
    limits = httpx.Limits(max_connections=64, keepalive_expiry=1.0)  # see cluster.send_load
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as http:
        sem = asyncio.Semaphore(64)

        async def one(n: int, number: str) -> None:
            path, body = _request(n, number, c)
            key = number.lstrip("+")  # as stored
            async with sem:
                if len(out.ok) >= kill:
                    return
                try:
                    r = await http.post(path, headers=c.headers, json=body)
                except httpx.HTTPError:
                    out.silent.add(key)
                    return
            answered = _answered_id(path, r)
            if answered is None:
                assert 400 <= r.status_code < 500, r.text
                out.error[key] = r.status_code
                return
            out.ok[key] = answered
            if len(out.ok) == kill:
                api.popen.send_signal(signal.SIGKILL)

        await asyncio.gather(*(one(n, number) for n, number in enumerate(to)))
    return out


def _check_stored(db: Database, c: Customer, out: Outcomes, opening: Decimal) -> int:
    """Answered: stored under the answered id. Refused: not stored. No answer: either way,
    but if stored, a valid queued message charged by exactly one entry of its price."""
    with db.read() as s:
        rows = s.execute(
            select(Message.msisdn, Message.id, Message.status, Message.parts, Message.price)
        ).all()
        charges = s.execute(
            select(LedgerEntry.reference, LedgerEntry.amount).where(
                LedgerEntry.entry_type == EntryType.CHARGE
            )
        ).all()
        balance = ledger.balance(s, c.account_id)
        assert balance == ledger.entries_total(s, c.account_id)
    stored = {m: (i, status, parts, price) for m, i, status, parts, price in rows}
    assert len(stored) == len(rows), "two messages for one request"
    assert {m: stored[m][0] for m in out.ok if m in stored} == out.ok, "an answered send lost"
    assert not set(out.error) & set(stored), "a refused request stored"
    assert set(stored) <= set(out.ok) | out.silent
    charged = dict(charges)
    assert len(charged) == len(charges) == len(stored), "a message charged twice or not at all"
    for i, status, parts, price in stored.values():
        assert status == MessageStatus.QUEUED and parts == 1 and price > 0
        assert charged[f"message:{i}"] == -price
    assert balance == opening - sum((p for *_, p in stored.values()), Decimal(0))
    return len(set(stored) & out.silent)


@pytest.mark.parametrize("total", REQUESTS)
def test_kill_9_the_api_with_requests_in_flight(
    db_url: str, db: Database, plan: str, tmp_path: Path, total: int
) -> None:
    rng = random.Random(seed_for_run())
    opening = Decimal(total)
    c = make_customer(db, balance=opening)
    to = numbers(total)
    with Cluster(db_url, tmp_path) as cluster:
        api, base = cluster.api()
        kill = rng.randint(total // 4, total // 2)
        started = time.monotonic()
        out = asyncio.run(_flood(base, c, to, kill, api))
        print(f"flood {time.monotonic() - started:.1f} s")
        api.popen.wait(timeout=10)
        api.killed = True
        assert api.popen.returncode == -signal.SIGKILL
        started = time.monotonic()
        _, base = cluster.api()  # it starts again on what the killed one left
        print(f"restart {time.monotonic() - started:.1f} s")
        first = next(iter(out.ok.values()))
        status = httpx.get(f"{base}/v1/messages/{first}", headers=c.headers, timeout=10)
        assert status.status_code == 200, status.text
        cluster.stop()
        assert not cluster.failures(), "\n".join(cluster.failures())
    assert len(out.ok) >= kill and out.error and out.silent
    kept = _check_stored(db, c, out, opening)
    print(
        f"{len(out.ok)} answered, {len(out.error)} refused, {len(out.silent)} without an "
        f"answer ({kept} of those stored and charged once)"
    )
