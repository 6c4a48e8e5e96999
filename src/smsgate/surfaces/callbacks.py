"""Callbacks from HTTP upstreams: ``/v1/callbacks/{connector}/{token}``.

Status callbacks (delivery receipts) and, for providers that forward them, inbound (MO)
messages. Any API process can take one: the connector's registry entry authenticates it
(its callback token, and Twilio's signature), the provider class parses it (no live
connector is needed), and receipts and inbound messages are written in one transaction,
exactly as the dispatcher writes what arrives over SMPP. A callback that cannot be
authenticated is answered 403 and logged.

``/v1/callbacks/{connector}`` without a token is only for Twilio connectors added before
callback tokens existed (their signature alone authenticates them); every other one is 403.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from smsgate.connectors import registry
from smsgate.dispatch.outbox import apply_receipts
from smsgate.inbound import service as inbound
from smsgate.inbound.keywords import Keywords
from smsgate.kit.time import utcnow
from smsgate.surfaces.deps import read_body, runtime
from smsgate.surfaces.rendering import problem_responses

log = structlog.get_logger(__name__)
router = APIRouter(tags=["callbacks"], responses=problem_responses(400, 403, 404, 413, 422, 503))


@router.post(
    "/v1/callbacks/{connector}/{token}",
    summary="Delivery status or inbound message from an HTTP upstream",
)
async def upstream_callback(connector: str, token: str, request: Request) -> Response:
    return await _take(connector, token, request)


@router.post(
    "/v1/callbacks/{connector}",
    summary="Callback without a token (Twilio connectors added before tokens existed)",
)
async def upstream_callback_untokened(connector: str, request: Request) -> Response:
    return await _take(connector, None, request)


async def _take(connector: str, token: str | None, request: Request) -> Response:
    rt = runtime(request)
    body = await read_body(request)
    client = request.client.host if request.client else ""

    def handle() -> tuple[str, str]:
        with rt.db.read() as session:
            config, provider = registry.callback_target(session, connector)
            registry.authenticate_callback(
                config,
                provider,
                token=token,
                url=str(request.url),
                body=body,
                headers=request.headers,
                settings=rt.settings,
                client=client,
            )
        receipts = provider.parse_callback(connector, body, request.headers, request.query_params)
        messages = provider.parse_inbound(connector, body, request.headers, request.query_params)
        if receipts or messages:
            with rt.db.write() as session:
                now = utcnow()
                if receipts:
                    apply_receipts(session, receipts, now)
                if messages:
                    inbound.record(session, messages, Keywords.from_settings(rt.settings), now)
        if messages:
            log.info("inbound messages stored", connector=connector, count=len(messages))
        return provider.callback_reply

    text, media_type = await asyncio.to_thread(handle)
    return Response(text, media_type=media_type)
