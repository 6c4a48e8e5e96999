"""The SQLite writers' turn lock: across threads, across processes, and its timeout."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from smsgate.db import outage
from smsgate.errors import Unavailable
from smsgate.kit.writelock import WriterLock

HOLDER = """
import sys, time
from smsgate.kit.writelock import WriterLock
lock = WriterLock(sys.argv[1], 5.0)
with lock.held():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_another_process_holds_the_turn_until_it_lets_go(tmp_path: Path) -> None:
    db = str(tmp_path / "smsgate.db")
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, db, "0.5"], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with WriterLock(db, 5.0).held():
            waited = time.monotonic() - started
            assert holder.poll() is not None or waited >= 0.3  # not before the holder let go
        assert waited < 1.5  # woken within a fraction of a second of the release
        holder.wait()


def test_a_thread_that_keeps_the_turn_past_the_timeout_makes_the_others_busy(
    tmp_path: Path,
) -> None:
    lock = WriterLock(str(tmp_path / "smsgate.db"), 0.3)
    inside, leave = threading.Event(), threading.Event()

    def keep() -> None:
        with lock.held():
            inside.set()
            leave.wait(5)

    keeper = threading.Thread(target=keep)
    keeper.start()
    inside.wait(5)
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        with lock.held():
            pass
    assert 0.25 <= time.monotonic() - started < 2
    assert isinstance(outage(raised.value), Unavailable)  # answered 503 like SQLite's own
    leave.set()
    keeper.join()
    with lock.held():  # free again
        pass


def test_nested_holds_of_one_thread_do_not_wait(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "smsgate.db"), 0.2)
    with lock.held(), lock.held():
        pass


def test_without_a_lock_file_it_still_orders_threads(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "missing" / "smsgate.db"), 1.0)  # cannot be created
    seen: list[int] = []

    def write(n: int) -> None:
        with lock.held():
            seen.append(n)
            time.sleep(0.01)
            seen.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(seen[i] == seen[i + 1] for i in range(0, len(seen), 2))  # never interleaved
