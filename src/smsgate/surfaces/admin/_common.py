"""What every admin route shares: the operator, who acts for the audit log, pagination."""

from __future__ import annotations

from typing import Annotated, TypedDict

from fastapi import Depends, Query, Request

from smsgate.accounts.service import Principal
from smsgate.surfaces.deps import MAX_BIG_ID, actor, client_address, operator

Operator = Annotated[Principal, Depends(operator)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_BIG_ID, description="Items to skip")]


class Who(TypedDict):
    actor: str
    address: str


def who(request: Request, principal: Principal) -> Who:
    """The audit log's actor and address of this request, as service keyword arguments."""
    return {"actor": actor(principal), "address": client_address(request)}
