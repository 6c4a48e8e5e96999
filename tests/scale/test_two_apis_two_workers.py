"""Scale-out on PostgreSQL: two API processes and two workers, one SMPP connector to an SMSC
that shares no code with smsgate (node-smpp from npm), receipts on.

The SMSC records the destination of every submit_sm and each message has its own number, so
"sent twice" and "lost" are counted at the SMSC, not inferred from smsgate's own tables.
The default run sends 20,000 messages (5,000 in the kill variant); ``--runslow`` adds runs
ten times larger.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from smsgate.db import Database
from tests.scale.cluster import (
    CONNECTOR_LEASE_SECONDS,
    DISPATCH_BATCH,
    Cluster,
    Proc,
    check_all_delivered,
    check_ledger,
    connect_smsc,
    holder_pid,
    leased_by,
    numbers,
    send_load,
    settled,
    snapshot,
    wait_all_final,
)
from tests.support.factories import make_customer
from tests.support.npm_smsc import running_smsc
from tests.support.waiting import wait_for

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
SIZES = [20_000, pytest.param(200_000, marks=pytest.mark.slow, id="200000")]
# the takeover is the point of the kill variant, not the volume: half as many by default
KILL_SIZES = [5_000, pytest.param(100_000, marks=pytest.mark.slow, id="100000")]
REFRESH_SECONDS = 2  # the dispatcher's refresh, when leases are taken over


def _kill_holder(db: Database, cluster: Cluster, workers: list[Proc], total: int) -> set[str]:
    """SIGKILL the connector's holder once a third of the messages has reached the SMSC; the
    other worker must take the connector over within the lease and a refresh. Returns the
    numbers the victim had claimed and not recorded: the only messages it may have sent
    without the database knowing (docs/connectors.md, "At least once")."""
    try:
        wait_for(lambda: settled(db) >= total // 3, timeout=300, interval=0.1)
    except AssertionError:
        raise AssertionError(f"a third never reached the SMSC: {snapshot(db)}") from None
    victim = next(w for w in workers if w.pid == holder_pid(db))
    survivor = next(w for w in workers if w is not victim)
    cluster.kill(victim)
    killed_at = time.monotonic()
    leased = {n.lstrip("+") for n in leased_by(db, victim.pid)}
    wait_for(lambda: holder_pid(db) == survivor.pid, timeout=30, interval=0.1)
    moved = time.monotonic() - killed_at
    print(f"\nconnector moved {moved:.1f} s after the kill; the victim had {len(leased)} claimed")
    assert moved < CONNECTOR_LEASE_SECONDS + REFRESH_SECONDS + 2
    return leased


def _run(db: Database, db_url: str, modules: Path, tmp_path: Path, total: int, kill: bool) -> None:
    opening = Decimal(total) * Decimal("0.05")
    customers = [make_customer(db, balance=opening, name=f"Acme {i}") for i in range(2)]
    to = numbers(total)
    record = tmp_path / "submits.txt"
    leased: set[str] = set()
    with running_smsc(modules, record=record) as smsc:
        connect_smsc(db, smsc, binds=2, window=50)
        with Cluster(db_url, tmp_path) as cluster:
            workers = [cluster.worker() for _ in range(2)]
            bases = [base for _, base in cluster.apis(2)]
            assert wait_for(lambda: holder_pid(db), timeout=20) in {w.pid for w in workers}
            started = time.monotonic()
            load = send_load(bases, customers, to, singles=total // 10, chunk=total // 20)
            with ThreadPoolExecutor(1) as pool:
                sending = pool.submit(asyncio.run, load)
                if kill:
                    leased = _kill_holder(db, cluster, workers, total)
                sent = sending.result(timeout=600)
            accepted = time.monotonic() - started
            wait_all_final(db, total, timeout=120 + total / 100)
            counters = smsc.stats()
            cluster.stop()
            assert not cluster.failures(), "\n".join(cluster.failures())
    print(
        f"\n{total} messages ({len(sent.messages)} single, {len(sent.sendings)} sendings) "
        f"accepted in {accepted:.1f} s, all final {time.monotonic() - started:.1f} s after "
        f"the first request; SMSC {counters}"
    )
    twice = check_all_delivered(db, to, record)
    # one worker at a time holds the connector's two binds, also across the takeover
    assert counters["bound_max"] == 2
    assert counters["receipts"] >= total
    assert set(twice) <= leased, f"{len(set(twice) - leased)} sent twice outside the window"
    assert len(twice) <= DISPATCH_BATCH and max(twice.values(), default=2) == 2
    if not kill:
        assert counters["binds"] == 2
    print(f"sent twice: {len(twice)}")
    check_ledger(db, customers, [opening, opening])


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
@pytest.mark.parametrize("total", SIZES)
def test_two_apis_two_workers_send_each_message_once(
    db_url: str, db: Database, plan: str, npm_smpp: Path, tmp_path: Path, total: int
) -> None:
    _run(db, db_url, npm_smpp, tmp_path, total, kill=False)


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
@pytest.mark.parametrize("total", KILL_SIZES)
def test_sigkill_of_the_connector_holder_moves_its_connector_and_claims(
    db_url: str, db: Database, plan: str, npm_smpp: Path, tmp_path: Path, total: int
) -> None:
    _run(db, db_url, npm_smpp, tmp_path, total, kill=True)
