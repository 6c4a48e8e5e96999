"""The API and the dispatcher in separate processes: `serve --no-dispatch` + `worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx

from smsgate.billing import ledger
from smsgate.connectors.registry import add_connector
from smsgate.db import Database
from smsgate.dispatch import leases
from smsgate.kit.time import utcnow
from smsgate.messaging.models import Message
from smsgate.routing.service import add_route
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
        wait_for(lambda: _answers(base), timeout=30)
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


def test_two_workers_share_connectors_through_leases(db_url: str, db: Database, plan: str) -> None:
    """One worker holds the connector; SIGKILL it and the other takes over within seconds."""
    c = make_customer(db, balance=Decimal("5"))
    with db.write() as s:
        add_connector(s, "shared-sim", "simulator", {"delay": 0.05})
        add_route(s, "shared-sim")
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": db_url,
        "SMSGATE_DEMO": "false",
        "SMSGATE_LOG_LEVEL": "warning",
        "SMSGATE_CONNECTOR_LEASE_SECONDS": "3",
        "SMSGATE_DISPATCH_LEASE_SECONDS": "5",
    }
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    api = subprocess.Popen(
        [SMSGATE, "serve", "--no-dispatch", "--port", str(port)], env=env, **quiet
    )
    workers = [subprocess.Popen([SMSGATE, "worker"], env=env, **quiet) for _ in range(2)]
    base = f"http://127.0.0.1:{port}"

    def holder() -> str | None:
        with db.read() as session:
            return leases.holders(session, utcnow()).get("shared-sim")

    def send_and_deliver(n: int) -> None:
        sent = httpx.post(
            f"{base}/v1/messages",
            headers=c.headers,
            timeout=10,
            json={"to": [f"+3712612345{i}" for i in range(n)], "text": "hi", "sender": c.sender},
        )
        assert sent.status_code == 200, sent.text
        ids = [m["id"] for m in sent.json()["messages"]]

        def delivered() -> bool:
            with db.read() as session:
                rows = [session.get_one(Message, i) for i in ids]
                return all(m.status == "delivered" and m.connector == "shared-sim" for m in rows)

        wait_for(delivered, timeout=15)

    try:
        wait_for(lambda: _answers(base), timeout=60)  # a loaded CI machine starts three processes
        first = wait_for(holder, timeout=15)
        time.sleep(2.5)  # both workers have refreshed at least once: still one holder
        assert holder() == first
        send_and_deliver(5)
        pids = {w.pid: w for w in workers}
        victim = pids[int(first.split(":")[1])]
        survivor = next(w for w in workers if w is not victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = time.monotonic()
        second = wait_for(lambda: (h := holder()) and h != first and h, timeout=10)
        assert int(second.split(":")[1]) == survivor.pid
        assert time.monotonic() - killed_at < 8  # lease 3 s + one refresh of 2 s
        send_and_deliver(5)
    finally:
        for proc in [*workers, api]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*workers, api]:
            proc.wait(timeout=30)
    assert survivor.returncode == 0
    assert holder() is None  # the survivor released its lease on a graceful stop
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == ledger.entries_total(session, c.account_id)


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes under ``serve`` ``pid`` (children that multiprocessing
    spawned; its resource tracker is a child too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            if f"\nPPid:\t{pid}\n" in status and b"spawn_main" in command:
                found.append(int(entry.name))
    return sorted(found)


def _serve_workers(db_url: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SMSGATE_DATABASE_URL": db_url,
        "SMSGATE_DEMO": "false",
        "SMSGATE_SIMULATOR_DELAY": "0.05",
        "SMSGATE_LOG_LEVEL": "warning",
    }
    args = [SMSGATE, "serve", "--workers", "2", "--port", str(port), *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_serve_workers_each_answer_on_the_one_port(db_url: str, db: Database, plan: str) -> None:
    """``serve --workers 2``: two API processes on one port, each able to accept sends on its
    own (the other stopped with SIGSTOP meanwhile); every accepted send charged once."""
    c = make_customer(db, balance=Decimal("5"))
    port = free_port()
    api = _serve_workers(db_url, port, "--no-dispatch")
    base = f"http://127.0.0.1:{port}"
    ids: list[int] = []
    try:
        wait_for(lambda: len(_children(api.pid)) == 2, timeout=60)
        workers = _children(api.pid)
        wait_for(lambda: _answers(base), timeout=60)
        for alone in workers:
            others = [w for w in workers if w != alone]
            for other in others:
                os.kill(other, signal.SIGSTOP)
            try:
                for _ in range(3):  # a new connection each: only ``alone`` can accept it
                    sent = httpx.post(
                        f"{base}/v1/messages",
                        headers=c.headers,
                        timeout=10,
                        json={"to": ["+37126123456"], "text": "one of two", "sender": c.sender},
                    )
                    assert sent.status_code == 200, sent.text
                    ids += [m["id"] for m in sent.json()["messages"]]
            finally:
                for other in others:
                    os.kill(other, signal.SIGCONT)
    finally:
        _stop(api)
    assert api.returncode == 0
    assert len(set(ids)) == 6
    with db.read() as session:
        assert ledger.balance(session, c.account_id) == Decimal("5") - 6 * Decimal("0.03")
        assert ledger.balance(session, c.account_id) == ledger.entries_total(session, c.account_id)


def test_serve_workers_each_dispatch(db_url: str, db: Database, plan: str) -> None:
    """With dispatch on, each worker process runs a dispatcher: every message of a burst over
    many connections is delivered once."""
    c = make_customer(db, balance=Decimal("5"))
    port = free_port()
    api = _serve_workers(db_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(_children(api.pid)) == 2, timeout=60)
        wait_for(lambda: _answers(base), timeout=60)

        def send(i: int) -> int:
            sent = httpx.post(
                f"{base}/v1/messages",
                headers=c.headers,
                timeout=10,
                json={"to": [f"+3712612{i:04d}"], "text": "burst", "sender": c.sender},
            )
            assert sent.status_code == 200, sent.text
            return int(sent.json()["messages"][0]["id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(send, range(40)))

        def delivered() -> bool:
            with db.read() as session:
                rows = [session.get_one(Message, i) for i in ids]
                return all(m.status == "delivered" for m in rows)

        wait_for(delivered, timeout=30)
    finally:
        _stop(api)
    assert api.returncode == 0
    with db.read() as session:
        assert {session.get_one(Message, i).attempts for i in ids} == {1}
        assert ledger.balance(session, c.account_id) == ledger.entries_total(session, c.account_id)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
