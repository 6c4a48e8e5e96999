from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsgate.config import Settings
from tests.webhooks.receiver import Receiver, receiving

REJECTED = "37126111111"  # the simulator refuses it on submit
UNDELIVERABLE = "998902222222"  # the simulator reports it undeliverable


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The receiver listens on loopback; retries come quickly so the tests stay short.
    return settings.model_copy(
        update={
            "webhooks_allow_private": True,
            "webhooks_idle_seconds": 0.02,
            "webhooks_retry_base_seconds": 0.05,
            "webhooks_retry_max_seconds": 0.2,
            "webhooks_timeout_seconds": 5.0,
            "simulator_rejected": f"^{REJECTED}$",
            "simulator_undeliverable": f"^{UNDELIVERABLE}$",
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r
