"""Status callbacks from HTTP upstreams: ``/v1/callbacks/{connector}``.

Any API process can take a callback: the provider class parses it (no live connector is
needed) and the receipts are applied in one transaction, exactly as the dispatcher applies
receipts that arrive over SMPP.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from smsgate.connectors.http import load_providers
from smsgate.connectors.models import ConnectorConfig
from smsgate.dispatch.outbox import apply_receipts
from smsgate.errors import NotFound
from smsgate.kit.time import utcnow
from smsgate.surfaces.deps import read_body, runtime

router = APIRouter(tags=["callbacks"])


@router.api_route(
    "/v1/callbacks/{connector}",
    methods=["POST"],
    summary="Delivery status callback from an HTTP upstream",
)
async def status_callback(connector: str, request: Request) -> Response:
    rt = runtime(request)
    body = await read_body(request)

    def handle() -> int:
        with rt.db.write() as session:
            kind = session.scalar(
                select(ConnectorConfig.kind).where(ConnectorConfig.name == connector)
            )
            provider = load_providers().get(kind or "")
            if provider is None:
                raise NotFound(f"no HTTP connector named {connector!r}", code="connector_not_found")
            receipts = provider.parse_callback(
                connector, body, request.headers, request.query_params
            )
            return apply_receipts(session, receipts, utcnow()) if receipts else 0

    await asyncio.to_thread(handle)
    return Response("OK", media_type="text/plain")
