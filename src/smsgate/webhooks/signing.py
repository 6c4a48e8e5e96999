"""Webhook secrets and signatures.

Each delivery carries ``X-Smsgate-Timestamp: <unix seconds>`` and
``X-Smsgate-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``. The timestamp
is the time of the attempt, so a receiver can refuse old requests (replays); the version
prefix leaves room for another scheme later. ``docs/webhooks.md`` has the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix, not a secret)
SIGNATURE_HEADER = "X-Smsgate-Signature"
TIMESTAMP_HEADER = "X-Smsgate-Timestamp"
DELIVERY_HEADER = "X-Smsgate-Delivery"
EVENT_HEADER = "X-Smsgate-Event"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(
    secret: str, timestamp: int, body: bytes, delivery_id: int, event: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "smsgate-webhooks/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }
