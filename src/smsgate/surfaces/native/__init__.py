"""The native API, ``/v1``: smsgate's own clean interface."""

from fastapi import APIRouter

from smsgate.surfaces.native import (
    _account,
    _inbound,
    _invoices,
    _messages,
    _sendings,
    _webhooks,
)

send_messages = _messages.send_messages  # the fast lane serves it directly

router = APIRouter()
router.include_router(_messages.router)
router.include_router(_account.router)
router.include_router(_sendings.router)
router.include_router(_invoices.router)
router.include_router(_webhooks.router)
router.include_router(_inbound.router)

__all__ = ["router", "send_messages"]
