"""The API and the dispatcher in separate processes: `serve --no-dispatch` + `worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx

from smsgate.billing import ledger
from smsgate.db import Database
from tests.support.factories import make_customer
from tests.support.postgres import free_port
from tests.support.waiting import wait_for

SMSGATE = str(Path(sys.executable).with_name("smsgate"))


def test_api_and_worker_in_separate_processes(db_url: str, db: Database, plan: str) -> None:
    c = make_customer(db, balance=Decimal("5"))
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": db_url,
        "SMSGATE_DEMO": "false",
        "SMSGATE_SIMULATOR_DELAY": "0.1",
        "SMSGATE_LOG_LEVEL": "warning",
    }
    port = free_port()
    api = subprocess.Popen(
        [SMSGATE, "serve", "--no-dispatch", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [SMSGATE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/status", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30)
        sent = httpx.post(
            f"{base}/v1/messages",
            headers=c.headers,
            timeout=10,
            json={"to": ["+37126123456", "+37126123457"], "text": "split", "sender": c.sender},
        )
        assert sent.status_code == 200, sent.text
        ids = [m["id"] for m in sent.json()["messages"]]

        def delivered() -> bool:
            return all(
                httpx.get(f"{base}/v1/messages/{i}", headers=c.headers).json()["status"]
                == "delivered"
                for i in ids
            )

        wait_for(delivered, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        api.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
        api.wait(timeout=30)
    assert worker.returncode == 0, errors
    assert "Traceback" not in errors
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == ledger.entries_total(session, c.account_id)
