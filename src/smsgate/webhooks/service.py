"""The customer's side of webhooks: the default URL, the secret, the delivery log, replay.

Every read and write is scoped by account: another account's delivery is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.errors import InvalidRequest, NotFound
from smsgate.kit.text import storable
from smsgate.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from smsgate.webhooks.signing import new_secret
from smsgate.webhooks.ssrf import literal_refusal

MAX_URL = 2000


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str | None
    has_secret: bool
    secret: str | None = None  # only in the answer that made it


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """An absolute http(s) URL whose host is not a private literal address (names are
    checked when a delivery connects: see ``webhooks.ssrf``)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: "http://[::1"
        parts = None
    if (
        parts is None
        or not storable(url)
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL
    ):
        raise InvalidRequest(
            f"{field} {url[:100]!r} is not an http(s) URL of at most {MAX_URL} characters",
            field=field,
            code="invalid_webhook_url",
        )
    refused = None if allow_private else literal_refusal(parts.hostname)
    if refused is not None:
        raise InvalidRequest(
            f"{field} points to a {refused}; webhooks only go to public addresses",
            field=field,
            code="webhook_url_not_public",
        )
    return url


def get_config(session: Session, account_id: int) -> WebhookConfig:
    account = get_account(session, account_id)
    return WebhookConfig(account.webhook_url, account.webhook_secret is not None)


def set_url(
    session: Session, account_id: int, url: str | None, *, allow_private: bool
) -> WebhookConfig:
    """Set (or, with None or "", remove) the default URL. The first time an account needs a
    secret, it is made here and returned in this answer only."""
    url = url.strip() if url else None
    if url:
        check_url(url, allow_private=allow_private)
    account = get_account(session, account_id)
    account.webhook_url = url or None
    made = None
    if account.webhook_secret is None and url:
        made = account.webhook_secret = new_secret()
    session.flush()
    return WebhookConfig(account.webhook_url, account.webhook_secret is not None, made)


def rotate_secret(session: Session, account_id: int) -> WebhookConfig:
    """A new secret, used from the next attempt on (retries of older events included)."""
    account = get_account(session, account_id)
    account.webhook_secret = new_secret()
    session.flush()
    return WebhookConfig(account.webhook_url, True, account.webhook_secret)


def _attempts(session: Session, ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
        ):
            found[attempt.delivery_id].append(attempt)
    return found


def list_deliveries(
    session: Session,
    account_id: int,
    *,
    status: DeliveryStatus | None = None,
    message_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[DeliveryLog]:
    """Newest first, each with every attempt (oldest first)."""
    query = select(WebhookDelivery).where(WebhookDelivery.account_id == account_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if message_id is not None:
        query = query.where(WebhookDelivery.message_id == message_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    rows = list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))
    attempts = _attempts(session, [d.id for d in rows])
    return [DeliveryLog(d, attempts[d.id]) for d in rows]


def get_delivery(session: Session, account_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.account_id == account_id
        )
    )
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}", code="delivery_not_found")
    return delivery


def replay(session: Session, account_id: int, delivery_id: int, now: datetime) -> DeliveryLog:
    """Queue the delivery again now, whatever its state, with a fresh retry period. A worker
    still posting the old attempt keeps its attempt in the log but can no longer move the
    delivery (its lease is gone)."""
    delivery = get_delivery(session, account_id, delivery_id)
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.queued_at = now
    delivery.lease_owner = None
    session.flush()
    return DeliveryLog(delivery, _attempts(session, [delivery.id])[delivery.id])
