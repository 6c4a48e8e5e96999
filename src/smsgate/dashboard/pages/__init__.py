"""The customer pages, under ``/app``."""

from fastapi import APIRouter

from smsgate.dashboard.pages import (
    _account,
    _auth,
    _billing,
    _history,
    _inbound,
    _overview,
    _send,
)

router = APIRouter(include_in_schema=False)
for part in (_auth.public, _auth.router, _overview, _send, _history, _account, _billing, _inbound):
    router.include_router(part if isinstance(part, APIRouter) else part.router)

__all__ = ["router"]
