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
from smsgate.surfaces.rendering import document_not_found, problem_responses

send_messages = _messages.send_messages  # the fast lane serves it directly

# What any route may answer: an unreadable body, a bad token, a wrong scope, a body too
# large, invalid input, too many failed logins from the address, a busy database. 404 goes
# to routes with a path parameter; routes name their other errors themselves.
router = APIRouter(responses=problem_responses(400, 401, 403, 413, 422, 429, 503))
for module in (_messages, _account, _sendings, _invoices, _webhooks, _inbound):
    document_not_found(module.router)
    router.include_router(module.router)

__all__ = ["router", "send_messages"]
