"""The customer pages, under ``/app``, and the operator's, under ``/admin``."""

from fastapi import APIRouter

from smsgate.dashboard.pages import (
    _account,
    _admin_accounts,
    _admin_connectors,
    _admin_invoices,
    _admin_overview,
    _admin_plans,
    _admin_reports,
    _admin_senders,
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
for admin in (
    _admin_overview,
    _admin_accounts,
    _admin_plans,
    _admin_senders,
    _admin_invoices,
    _admin_connectors,
    _admin_reports,
):
    router.include_router(admin.router)

__all__ = ["router"]
