"""Request plumbing shared by the surfaces: the runtime, the caller, the body."""

from __future__ import annotations

from fastapi import Request

from smsgate.accounts.service import Principal
from smsgate.errors import Forbidden
from smsgate.runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def customer(request: Request) -> Principal:
    principal = runtime(request).auth.principal(bearer(request))
    if principal.account_id is None:
        raise Forbidden("this route needs a customer token", code="customer_only")
    return principal


async def read_body(request: Request) -> bytes:
    """The whole body; its size is already limited by ``surfaces.limits.BodyLimit``."""
    return await request.body()


def operator(request: Request) -> Principal:
    """The caller, who must hold an operator token (customer tokens never have that scope)."""
    principal = runtime(request).auth.principal(bearer(request))
    if not principal.is_operator:
        raise Forbidden("this route needs an operator token", code="operator_only")
    return principal


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def actor(principal: Principal) -> str:
    """How the audit log names a caller."""
    return f"token:{principal.token_id}"
