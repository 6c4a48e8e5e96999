"""``/v1/webhooks``: the default callback URL, the signing secret, the delivery log, replay."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from smsgate.accounts.service import Principal
from smsgate.kit.time import utcnow
from smsgate.surfaces.deps import BigPathId, BigQueryId, customer, runtime
from smsgate.surfaces.native._messages import parse_cursor
from smsgate.webhooks import service
from smsgate.webhooks.models import DeliveryStatus
from smsgate.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    WebhookSettingsIn,
    WebhookSettingsOut,
)

router = APIRouter(tags=["webhooks"])
Customer = Annotated[Principal, Depends(customer)]


def _account_id(principal: Principal) -> int:
    assert principal.account_id is not None
    return principal.account_id


def _settings_out(config: service.WebhookConfig) -> WebhookSettingsOut:
    return WebhookSettingsOut(url=config.url, has_secret=config.has_secret, secret=config.secret)


def _delivery_out(log: service.DeliveryLog) -> DeliveryOut:
    d = log.delivery
    return DeliveryOut(
        id=d.id,
        message_id=d.message_id,
        event=d.event,
        url=d.url,
        status=d.status,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        queued_at=d.queued_at,
        delivered_at=d.delivered_at,
        payload=json.loads(d.payload),
        attempts=[
            AttemptOut(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)
            for a in log.attempts
        ],
    )


@router.get("/v1/webhooks", response_model=WebhookSettingsOut, summary="Webhook settings")
def get_webhooks(request: Request, principal: Customer) -> WebhookSettingsOut:
    with runtime(request).db.read() as session:
        return _settings_out(service.get_config(session, _account_id(principal)))


@router.put(
    "/v1/webhooks",
    response_model=WebhookSettingsOut,
    summary="Set the default callback URL (the first time, also makes the signing secret)",
)
def put_webhooks(
    body: WebhookSettingsIn, request: Request, principal: Customer
) -> WebhookSettingsOut:
    rt = runtime(request)
    with rt.db.write() as session:
        config = service.set_url(
            session,
            _account_id(principal),
            body.url,
            allow_private=rt.settings.webhooks_allow_private,
        )
    return _settings_out(config)


@router.post(
    "/v1/webhooks/secret",
    response_model=WebhookSettingsOut,
    summary="Make a new signing secret (shown in this answer only)",
)
def rotate_secret(request: Request, principal: Customer) -> WebhookSettingsOut:
    with runtime(request).db.write() as session:
        return _settings_out(service.rotate_secret(session, _account_id(principal)))


@router.get(
    "/v1/webhooks/deliveries",
    response_model=DeliveryPage,
    summary="Webhook deliveries with every attempt, newest first",
)
def list_deliveries(
    request: Request,
    principal: Customer,
    status: DeliveryStatus | None = None,
    message_id: BigQueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    with runtime(request).db.read() as session:
        rows = service.list_deliveries(
            session,
            _account_id(principal),
            status=status,
            message_id=message_id,
            limit=limit,
            before_id=parse_cursor(cursor),
        )
        return DeliveryPage(
            deliveries=[_delivery_out(log) for log in rows],
            next_cursor=str(rows[-1].delivery.id) if len(rows) == limit else None,
        )


@router.post(
    "/v1/webhooks/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    summary="Send a delivery again now (retried as a new one if it fails)",
)
def replay_delivery(delivery_id: BigPathId, request: Request, principal: Customer) -> DeliveryOut:
    rt = runtime(request)
    with rt.db.write() as session:
        out = _delivery_out(service.replay(session, _account_id(principal), delivery_id, utcnow()))
    if rt.webhooks is not None:
        rt.webhooks.wake()
    return out
