"""The operator's admin API, ``/v1/admin``: operator tokens only (see docs/api/admin.md).

Every route also depends on ``operator`` at the router level, so a route added here can
never be reached with a customer token, whatever its own signature says.
"""

from fastapi import APIRouter, Depends

from smsgate.surfaces.admin import (
    _accounts,
    _connectors,
    _invoices,
    _money,
    _plans,
    _reports,
    _senders,
    _tokens,
)
from smsgate.surfaces.deps import operator

router = APIRouter(dependencies=[Depends(operator)])
for module in (_accounts, _tokens, _money, _plans, _senders, _invoices, _reports, _connectors):
    router.include_router(module.router)

__all__ = ["router"]
