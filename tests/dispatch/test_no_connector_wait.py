"""The wait of a message that no healthy connector could take is jittered (why: dispatcher.py)."""

from __future__ import annotations

from datetime import timedelta

from smsgate.dispatch.dispatcher import NO_CONNECTOR_WAIT, no_connector_wait


def test_the_wait_is_between_half_and_all_of_it_and_varies() -> None:
    waits = [no_connector_wait() for _ in range(200)]
    assert all(NO_CONNECTOR_WAIT / 2 <= w <= NO_CONNECTOR_WAIT for w in waits)
    # a fixed wait is what kept messages in step with an SMSC's periodic drops
    assert max(waits) - min(waits) > timedelta(seconds=1)
