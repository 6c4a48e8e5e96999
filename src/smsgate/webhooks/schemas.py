"""The JSON shapes of ``/v1/webhooks``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class WebhookSettingsIn(BaseModel):
    url: str | None = Field(
        description="Default callback URL for messages sent without callback_url; null removes it"
    )


class WebhookSettingsOut(BaseModel):
    url: str | None
    has_secret: bool
    secret: str | None = Field(
        None,
        description="The signing secret, only in the answer that created it: store it now",
    )


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null if none came")
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int = Field(description="Also sent as the X-Smsgate-Delivery header")
    message_id: int | None
    event: str
    url: str
    status: str = Field(description="pending, delivered or failed")
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    queued_at: datetime = Field(description="Created or last replayed; retries end 24 h later")
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The JSON body as sent")
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first")


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None
