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
from smsgate.surfaces.rendering import document_not_found, problem_responses

router = APIRouter(
    dependencies=[Depends(operator)], responses=problem_responses(400, 401, 403, 413, 422, 429, 503)
)
for module in (_accounts, _tokens, _money, _plans, _senders, _invoices, _reports, _connectors):
    document_not_found(module.router)
    router.include_router(module.router)

__all__ = ["router"]
