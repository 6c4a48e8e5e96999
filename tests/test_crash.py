"""Kill -9 the whole process mid-flow: every answered send is kept and ends final."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, select

from smsgate.billing import ledger
from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.messaging.status import FINAL
from smsgate.migrations import upgrade
from tests.support.factories import make_customer, make_plan
from tests.support.postgres import free_port
from tests.support.waiting import wait_for


def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": url,
        "SMSGATE_DEMO": "false",
        "SMSGATE_SIMULATOR_DELAY": "0.2",
        "SMSGATE_DISPATCH_LEASE_SECONDS": "5",
        "SMSGATE_LOG_LEVEL": "warning",
    }
    smsgate = str(Path(sys.executable).with_name("smsgate"))
    proc = subprocess.Popen(
        [smsgate, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=30)
    return proc


async def _flood(
    port: int,
    headers: dict[str, str],
    sender: str,
    count: int,
    answered: list[int],
    kill_after: int,
    proc: subprocess.Popen[bytes],
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

        async def one(n: int) -> None:
            try:
                r = await http.post(
                    "/v1/messages",
                    headers=headers,
                    json={"to": f"+3712612{n:04d}", "text": f"crash {n}", "sender": sender},
                )
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                answered.append(r.json()["messages"][0]["id"])
                if len(answered) == kill_after:
                    proc.send_signal(signal.SIGKILL)

        sem = asyncio.Semaphore(16)

        async def bounded(n: int) -> None:
            async with sem:
                await one(n)

        await asyncio.gather(*(bounded(n) for n in range(count)))


def test_kill_9_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(url)
    db = Database(url)
    make_plan(db)
    customer = make_customer(db, balance=Decimal("100"))
    port = free_port()
    proc = _start(url, port)
    answered: list[int] = []
    try:
        asyncio.run(_flood(port, customer.headers, customer.sender, 600, answered, 300, proc))
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert len(answered) >= 300
        proc = _start(url, port)

        def all_final() -> bool:
            with db.read() as session:
                pending = session.scalar(
                    select(func.count()).where(Message.status.notin_([s.value for s in FINAL]))
                )
            return pending == 0

        wait_for(all_final, timeout=60, interval=0.2)
        with db.read() as session:
            stored = set(session.scalars(select(Message.id)))
            charged = session.scalar(select(func.sum(Message.price)))
            assert set(answered) <= stored
            assert ledger.balance(session, customer.account_id) == ledger.entries_total(
                session, customer.account_id
            )
            assert ledger.balance(session, customer.account_id) == Decimal("100") - charged
            statuses = set(session.scalars(select(Message.status).distinct()))
            assert statuses == {"delivered"}
    finally:
        proc.kill()
        proc.wait()
        db.dispose()
