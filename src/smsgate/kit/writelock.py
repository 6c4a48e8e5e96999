"""Whose turn it is to write one SQLite file, among this process's threads and other processes.

SQLite admits one writer at a time and makes the others wait in its busy handler, which
sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries. Under steady load that turned every
handover into a sleep: the API's group commit, the dispatcher and the receipts (threads of
one process, or an API process beside a worker) stalled each other while the CPU idled
(docs/benchmarks.md). Writers therefore queue here first: threads on a lock, processes on an
``flock`` of a file beside the database, re-tried every fraction of a millisecond. The lock
only orders writers that would wait anyway; SQLite's own lock stays the guarantee, so when
the file cannot be opened (a read-only or full disk) or a holder overstays the busy timeout,
a writer goes on to SQLite's busy handler as before. No library offers an flock with a
deadline; the kernel drops it with a killed holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator

from sqlalchemy.exc import OperationalError

# Seconds between tries for the file lock: short at first (a commit takes about a
# millisecond), capped so that a long wait costs little CPU.
_FIRST_WAIT = 0.00005
_LONGEST_WAIT = 0.001


class WriterLock:
    def __init__(self, database_path: str | None, timeout: float) -> None:
        self.timeout = timeout
        self._threads = threading.RLock()
        self._depth = 0  # re-entrant holds by the thread inside
        self._fd: int | None = None
        if database_path:
            with contextlib.suppress(OSError):
                self._fd = os.open(f"{database_path}-writer", os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the turn. Another writer of this process keeping it past the busy timeout
        raises ``OperationalError`` (as SQLite's "database is locked" does), so that one
        stuck writer answers every waiting caller within the timeout, not one by one."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            # Raised as SQLAlchemy raises SQLite's own "database is locked": answered 503.
            busy = sqlite3.OperationalError("database is locked (by a writer of this process)")
            raise OperationalError("BEGIN IMMEDIATE", None, busy)
        try:
            self._depth += 1
            locked = self._depth == 1 and self._lock_file(deadline)
            try:
                yield
            finally:
                self._depth -= 1
                if locked and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> bool:
        if self._fd is None:
            return False
        wait = _FIRST_WAIT
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False  # SQLite's busy handler takes it from here
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT)
            except OSError:
                return False

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
