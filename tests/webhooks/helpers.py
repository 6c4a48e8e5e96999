"""The docs' verification snippet, loaded from docs/webhooks.md, and small waits."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.factories import Customer
from tests.support.waiting import wait_for
from tests.webhooks.receiver import Received, Receiver

DOCS = Path(__file__).parents[2] / "docs" / "webhooks.md"
Verify = Callable[[str, bytes, str, str], bool]


def docs_verifier() -> Verify:
    """``verify_webhook`` exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    marker = text.index("<!-- verify-snippet")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)
    verify: Verify = namespace["verify_webhook"]
    return verify


def signed_by(secret: str, call: Received) -> bool:
    return docs_verifier()(
        secret,
        call.body,
        call.headers["x-smsgate-timestamp"],
        call.headers["x-smsgate-signature"],
    )


def events_for(receiver: Receiver, path: str, message_id: int, count: int) -> list[dict[str, Any]]:
    """Wait until ``path`` has ``count`` events of the message; their payloads, by status."""

    def probe() -> list[dict[str, Any]] | None:
        got = [json.loads(c.body) for c in receiver.calls(path)]
        mine = [e for e in got if e["message_id"] == message_id]
        return mine if len(mine) >= count else None

    return sorted(wait_for(probe), key=lambda e: e["status"] != "submitted")


def rotate(client: httpx.Client, c: Customer) -> str:
    answer = client.post("/v1/webhooks/secret", headers=c.headers)
    assert answer.status_code == 200, answer.text
    secret = answer.json()["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    return secret


def deliveries(client: httpx.Client, c: Customer, **params: object) -> list[dict[str, Any]]:
    answer = client.get("/v1/webhooks/deliveries", headers=c.headers, params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found
