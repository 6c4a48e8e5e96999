from __future__ import annotations

import pytest

from smsgate.messaging.status import (
    ALWAYS_REFUNDED,
    FINAL,
    TRANSITIONS,
    MessageStatus,
    can_transition,
    sources_of,
)

S = MessageStatus

ALLOWED = {
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.REJECTED),
    (S.SCHEDULED, S.UNDELIVERABLE),
    (S.QUEUED, S.QUEUED),
    (S.QUEUED, S.SUBMITTED),
    (S.QUEUED, S.REJECTED),
    (S.QUEUED, S.UNDELIVERABLE),
    (S.QUEUED, S.CANCELLED),
    (S.SUBMITTED, S.DELIVERED),
    (S.SUBMITTED, S.UNDELIVERABLE),
    (S.SUBMITTED, S.REJECTED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(current: MessageStatus, new: MessageStatus) -> None:
    assert can_transition(current, new) == ((current, new) in ALLOWED)


def test_final_statuses_never_move() -> None:
    assert {S.DELIVERED, S.UNDELIVERABLE, S.REJECTED, S.CANCELLED} == FINAL
    assert all(not TRANSITIONS[s] for s in FINAL)


def test_nothing_returns_to_scheduled_and_cancel_only_before_leaving() -> None:
    assert sources_of(S.SCHEDULED) == frozenset()
    assert sources_of(S.CANCELLED) == {S.SCHEDULED, S.QUEUED}
    assert {S.REJECTED, S.CANCELLED} == ALWAYS_REFUNDED
