"""smsgate as several processes on one database, and the checks the scale and kill suites share.

``Cluster`` starts API processes (``smsgate serve --no-dispatch``) and dispatchers
(``smsgate worker``) as real subprocesses with short leases, so takeovers happen in seconds;
each process logs to its own file, which a failing test prints. ``send_load`` drives the APIs
over HTTP with bulk sendings and single sends at once. The checks read the database and the
SMSC's record of submits (one destination number per message, so a number's submits are
that message's submits).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.kit.time import utcnow
from smsgate.messaging.models import Message
from smsgate.messaging.status import FINAL, MessageStatus
from smsgate.routing.service import add_route
from tests.support.factories import Customer
from tests.support.npm_smsc import NpmSmsc
from tests.support.postgres import free_port
from tests.support.waiting import wait_for

SMSGATE = str(Path(sys.executable).with_name("smsgate"))
CONNECTOR = "npm"
# Short leases so that a killed worker's connector and claims move within seconds.
CONNECTOR_LEASE_SECONDS = 4
DISPATCH_LEASE_SECONDS = 5
DISPATCH_BATCH = 100
REFUNDED = {MessageStatus.REJECTED, MessageStatus.CANCELLED, MessageStatus.UNDELIVERABLE}


def seed_for_run() -> int:
    """The random seed of this run: ``SMSGATE_TEST_SEED`` to replay one, else a fresh one.
    Printed so that a failing run's kill moments can be replayed."""
    chosen = os.environ.get("SMSGATE_TEST_SEED")
    seed = int(chosen) if chosen else random.SystemRandom().randrange(2**32)
    print(f"\nrandom seed {seed} (replay with SMSGATE_TEST_SEED={seed})")
    return seed


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct Latvian mobile numbers: each message of a run has its own."""
    return [f"+3712{n:07d}" for n in range(start, start + count)]


def connect_smsc(db: Database, smsc: NpmSmsc, **options: object) -> None:
    """One SMPP connector to the SMSC and a route sending everything to it."""
    with db.write() as s:
        add_connector(
            s,
            CONNECTOR,
            "smpp",
            {"host": "127.0.0.1", "port": smsc.port, "system_id": "smsgate", **options},
            "secret",
        )
        add_route(s, CONNECTOR)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Cluster:
    """Processes of one deployment; a context manager that stops them all at the end."""

    db_url: str
    logs: Path
    settings: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SMSGATE_DATABASE_URL": self.db_url,
            "SMSGATE_DEMO": "false",
            "SMSGATE_LOG_LEVEL": "warning",
            "SMSGATE_CONNECTOR_LEASE_SECONDS": str(CONNECTOR_LEASE_SECONDS),
            "SMSGATE_DISPATCH_LEASE_SECONDS": str(DISPATCH_LEASE_SECONDS),
            "SMSGATE_DISPATCH_BATCH": str(DISPATCH_BATCH),
            **self.settings,
        }

    def _start(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [SMSGATE, *args], env={**self.env(), **env}, stdout=out, stderr=subprocess.STDOUT
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def api(self) -> tuple[Proc, str]:
        """An API process on its own loopback port, once it answers; returns it and its URL."""
        return self.apis(1)[0]

    def apis(self, n: int) -> list[tuple[Proc, str]]:
        """``n`` API processes started together (each takes seconds to import and migrate
        its view of the schema), returned once all of them answer."""
        started = []
        for _ in range(n):
            port = free_port()
            proc = self._start(f"api-{port}", ["serve", "--no-dispatch", "--port", str(port)])
            started.append((proc, f"http://127.0.0.1:{port}"))

        def up(proc: Proc, base: str) -> bool:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited:\n{proc.log.read_text()}")
            try:
                return httpx.get(f"{base}/status", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        for proc, base in started:
            wait_for(lambda proc=proc, base=base: up(proc, base), timeout=30, interval=0.1)
        return started

    def worker(self) -> Proc:
        # info: its binds and connector changes are in its log when a test fails
        return self._start(f"worker-{len(self.procs)}", ["worker"], SMSGATE_LOG_LEVEL="info")

    def kill(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=10)
        proc.killed = True

    def stop(self) -> None:
        """SIGTERM to every live process; whatever does not stop in 30 s is killed."""
        live = [p for p in self.procs if p.alive()]
        for proc in live:
            proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in live:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=10)

    def failures(self) -> list[str]:
        """Processes stopped gracefully that did not exit cleanly or logged a traceback
        (uvicorn re-raises the SIGTERM it handled, so an API process ends with -15)."""
        bad = []
        for proc in self.procs:
            text = proc.log.read_text(errors="replace")
            clean = proc.popen.returncode in (0, -signal.SIGTERM)
            if not proc.killed and (not clean or "Traceback" in text):
                bad.append(f"--- {proc.name} (exit {proc.popen.returncode}):\n{text[-4000:]}")
        return bad

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if kind is not None:
            for proc in self.procs:
                print(f"--- log of {proc.name}:\n{proc.log.read_text(errors='replace')[-3000:]}")


def holder_pid(db: Database) -> int | None:
    """The pid of the worker holding the SMPP connector's lease now (owner is host:pid:id)."""
    with db.read() as s:
        owner = leases.holders(s, utcnow()).get(CONNECTOR)
    return int(owner.split(":")[1]) if owner else None


def leased_by(db: Database, pid: int) -> set[str]:
    """Numbers of the messages a worker has claimed and not yet recorded."""
    with db.read() as s:
        return set(
            s.scalars(
                select(Message.msisdn).where(
                    Message.lease_owner.like(f"%:{pid}:%"), Message.status == MessageStatus.QUEUED
                )
            )
        )


def count(db: Database, *where: object) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Message).where(*where)) or 0)  # type: ignore[arg-type]


def settled(db: Database) -> int:
    """Messages that reached the SMSC (submitted or final)."""
    return count(db, Message.status.notin_([MessageStatus.QUEUED, MessageStatus.SCHEDULED]))


def snapshot(db: Database) -> str:
    """Where a run stands, for a wait that ran out: messages by status, the connector's lease,
    and how many queued messages each process has claimed."""
    with db.read() as s:
        by_status = dict(s.execute(select(Message.status, func.count()).group_by(Message.status)))
        claimed = dict(
            s.execute(
                select(Message.lease_owner, func.count())
                .where(Message.status == MessageStatus.QUEUED, Message.lease_owner.is_not(None))
                .group_by(Message.lease_owner)
            )
        )
        holders = leases.holders(s, utcnow())
    return f"messages {by_status}, connector leases {holders}, claimed {claimed}"


def wait_all_final(db: Database, total: int, timeout: float) -> float:
    """Seconds until every one of ``total`` messages is final."""
    started = time.monotonic()
    final = [str(s) for s in FINAL]
    try:
        wait_for(
            lambda: count(db, Message.status.in_(final)) == total, timeout=timeout, interval=0.5
        )
    except AssertionError:
        raise AssertionError(f"not all final: {snapshot(db)}") from None
    return time.monotonic() - started


def submits_per_number(record: Path) -> Counter[str]:
    return Counter(line for line in record.read_text().splitlines() if line)


# --- load --------------------------------------------------------------------------------


@dataclass
class Sent:
    """What the APIs answered: message ids of single sends, sending ids of bulk ones."""

    messages: list[int] = field(default_factory=list)
    sendings: list[int] = field(default_factory=list)


async def send_load(
    bases: Sequence[str],
    customers: Sequence[Customer],
    to: Sequence[str],
    *,
    singles: int,
    chunk: int,
    concurrency: int = 16,
) -> Sent:
    """The first ``singles`` numbers as single sends (``POST /v1/messages``), the rest as
    sendings of ``chunk`` recipients (``POST /v1/sendings``), all at once, spread round-robin
    over the APIs and the customers. Every request must be accepted."""
    sent = Sent()
    limit = asyncio.Semaphore(concurrency)
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a request never
    # goes out on a connection the server is closing (a ReadError, not an answer).
    limits = httpx.Limits(keepalive_expiry=1.0)
    clients = [httpx.AsyncClient(base_url=b, timeout=60, limits=limits) for b in bases]

    async def post(i: int, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        c = customers[i % len(customers)]
        async with limit:
            r = await clients[i % len(clients)].post(path, headers=c.headers, json=body)
        assert r.status_code in (200, 201), r.text
        answer: dict[str, Any] = r.json()
        return answer

    async def single(i: int, number: str) -> None:
        c = customers[i % len(customers)]
        body = {"to": number, "text": f"single {number}", "sender": c.sender}
        answer = await post(i, "/v1/messages", body)
        sent.messages.append(int(answer["messages"][0]["id"]))

    async def bulk(i: int, group: Sequence[str]) -> None:
        c = customers[i % len(customers)]
        body = {"recipients": list(group), "text": "bulk via two APIs", "sender": c.sender}
        sent.sendings.append(int((await post(i, "/v1/sendings", body))["id"]))

    rest = to[singles:]
    try:
        await asyncio.gather(
            *(single(i, n) for i, n in enumerate(to[:singles])),
            *(bulk(i, rest[k : k + chunk]) for i, k in enumerate(range(0, len(rest), chunk))),
        )
    finally:
        for client in clients:
            await client.aclose()
    return sent


# --- checks ------------------------------------------------------------------------------


def check_ledger(db: Database, customers: Sequence[Customer], openings: Sequence[Decimal]) -> None:
    """Per account: balance = sum of its entries = opening - charges + refunds; charges =
    the price of every stored message, each request charged by exactly one entry; refunds =
    the price of the refunded messages, and only messages in a refunded status are."""
    with db.read() as s:
        for c, opening in zip(customers, openings, strict=True):
            mine = Message.account_id == c.account_id
            balance = ledger.balance(s, c.account_id)
            assert balance == ledger.entries_total(s, c.account_id)
            priced = s.scalar(select(func.sum(Message.price)).where(mine)) or Decimal(0)
            refunded = s.scalar(
                select(func.sum(Message.price)).where(mine, Message.refunded)
            ) or Decimal(0)
            entries = s.execute(
                select(LedgerEntry.entry_type, LedgerEntry.amount, LedgerEntry.reference).where(
                    LedgerEntry.account_id == c.account_id
                )
            ).all()
            charges = [(a, r) for t, a, r in entries if t == EntryType.CHARGE]
            refunds = sum((a for t, a, _ in entries if t == EntryType.REFUND), Decimal(0))
            references = Counter(r for _, r in charges)
            assert max(references.values(), default=1) == 1, "a request charged twice"
            assert -sum((a for a, _ in charges), Decimal(0)) == priced
            assert refunds == refunded
            assert balance == opening - priced + refunded
            wrong = s.scalar(
                select(func.count())
                .select_from(Message)
                .where(mine, Message.refunded, Message.status.notin_([str(x) for x in REFUNDED]))
            )
            assert wrong == 0, "a refund for a status that is not refunded"


def check_all_delivered(db: Database, expected: Sequence[str], record: Path) -> dict[str, int]:
    """Every expected number reached the SMSC and its message, the only one with that number,
    ended delivered; returns the numbers the SMSC got more than once, with their submits."""
    per_number = submits_per_number(record)
    wanted = {n.lstrip("+") for n in expected}
    assert set(per_number) == wanted, (
        f"{len(wanted - set(per_number))} never reached the SMSC, "
        f"{len(set(per_number) - wanted)} unknown numbers"
    )
    assert count(db, Message.status == MessageStatus.DELIVERED) == len(expected)
    assert count(db) == len(expected)
    assert count(db, Message.connector != CONNECTOR) == 0
    return {n: k for n, k in per_number.items() if k > 1}
