"""Limits kept in the database: one fixed window per key for every process, on both engines."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from smsgate.db import Database
from smsgate.kit.ratelimit import Decision
from smsgate.limits.models import LimitWindow
from smsgate.limits.service import Rule, SharedLimits

ADDRESS = Rule("test_address", 3, 60.0)
SECRET = Rule("test_secret", 2, 30.0, hashed=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _rows(db: Database) -> dict[tuple[str, str], int]:
    with db.read() as session:
        found = session.execute(select(LimitWindow.scope, LimitWindow.key, LimitWindow.hits))
        return {(scope, key): hits for scope, key, hits in found}


def test_a_window_allows_the_limit_then_refuses_until_it_ends(db: Database) -> None:
    clock = Clock()
    limits = SharedLimits(db, clock=clock)
    assert [limits.hit((ADDRESS, "a"))[0].remaining for _ in range(3)] == [2, 1, 0]
    clock.now += 20
    assert limits.hit((ADDRESS, "a")) == [Decision(False, 3, 0, 40.0)]
    clock.now += 39.5
    assert not limits.hit((ADDRESS, "a"))[0].allowed
    clock.now += 0.5  # the window opened at the first hit has ended
    assert limits.hit((ADDRESS, "a")) == [Decision(True, 3, 2, 60.0)]


def test_processes_share_the_windows(db: Database) -> None:
    """Two processes' worth (their own engines) count into the same windows."""
    clock = Clock()
    other = Database(db.url)
    try:
        first, second = SharedLimits(db, clock=clock), SharedLimits(other, clock=clock)
        assert first.hit((ADDRESS, "a"))[0].allowed
        clock.now += 10
        assert second.hit((ADDRESS, "a"))[0].allowed
        assert first.hit((ADDRESS, "a"))[0].remaining == 0
        refused = second.hit((ADDRESS, "a"))[0]
        assert not refused.allowed and refused.reset_after == 50.0  # the first hit's window
        with other.read() as session:
            assert second.at_limit(session, (ADDRESS, "a"), (ADDRESS, "b")) == [
                ((ADDRESS, "a"), 50.0)
            ]
    finally:
        other.dispose()


def test_keys_rules_and_several_hits_at_once(db: Database) -> None:
    limits = SharedLimits(db, clock=Clock())
    a, s = limits.hit((ADDRESS, "a"), (SECRET, "a"))
    assert (a.limit, a.remaining, s.limit, s.remaining) == (3, 2, 2, 1)
    assert (a.reset_after, s.reset_after) == (60.0, 30.0)
    assert [d.remaining for d in limits.hit((SECRET, "a"), (ADDRESS, "b"))] == [0, 2]
    assert [d.allowed for d in limits.hit((SECRET, "a"), (ADDRESS, "a"))] == [False, True]
    with db.read() as session:
        assert limits.at_limit(session, (SECRET, "a"), (ADDRESS, "a"), (ADDRESS, "b")) == [
            ((SECRET, "a"), 30.0)
        ]
    assert limits.hit() == []


def test_secret_long_and_odd_keys_are_stored_as_digests(db: Database) -> None:
    limits = SharedLimits(db, clock=Clock())
    token, email = "sg_" + "s" * 43, "Ann@Example.com"
    long = "x" * 65
    odd = ["a\x00b", "ä", "sha256:" + "0" * 64, long]
    limits.hit((SECRET, token), (SECRET, email), *((ADDRESS, k) for k in odd), (ADDRESS, "::1"))
    keys = {key for _, key in _rows(db)}
    assert "::1" in keys and len(keys) == 7
    for given in (token, email, *odd):
        assert not any(given in key for key in keys)
    assert all(len(k) == 71 and k.startswith("sha256:") for k in keys - {"::1"})
    assert SECRET.stored(token) == SECRET.stored(token) != Rule("other", 1, 1.0, True).stored(token)


def test_ended_windows_are_pruned(db: Database) -> None:
    clock = Clock()
    limits = SharedLimits(db, clock=clock, prune_every=50.0)
    limits.hit((SECRET, "old"), (ADDRESS, "old"))  # the first hit prunes (nothing)
    clock.now += 45  # SECRET's window (30 s) has ended; the next prune is due at 50 s
    limits.hit((ADDRESS, "new"))
    assert len(_rows(db)) == 3
    clock.now += 5  # this hit prunes SECRET's window; ADDRESS's lasts to 60 s
    limits.hit((ADDRESS, "new"))
    assert set(_rows(db)) == {("test_address", "old"), ("test_address", "new")}
    clock.now += 60
    limits.hit((ADDRESS, "newest"))
    assert _rows(db) == {("test_address", "newest"): 1}


def test_concurrent_hits_never_pass_more_than_the_limit(db: Database) -> None:
    """Threads of two processes' worth hit one key at once: exactly the limit passes."""
    rule = Rule("test_burst", 25, 60.0)
    other = Database(db.url)
    passed: list[bool] = []
    lock = threading.Lock()

    def hammer(limits: SharedLimits) -> None:
        for _ in range(10):
            allowed = limits.hit((rule, "k"))[0].allowed
            with lock:
                passed.append(allowed)

    try:
        threads = [
            threading.Thread(target=hammer, args=(SharedLimits(target),))
            for target in (db, other) * 3
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.dispose()
    assert len(passed) == 60 and sum(passed) == 25
    with db.read() as session:
        assert session.scalar(select(func.max(LimitWindow.hits))) == 60


def test_a_rule_is_checked() -> None:
    for bad in (("s", 0, 1.0), ("s", 1, 0.0), ("", 1, 1.0), ("s" * 33, 1, 1.0)):
        with pytest.raises(ValueError, match="a limit needs"):
            Rule(*bad)
