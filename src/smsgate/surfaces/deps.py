"""Request plumbing shared by the surfaces: the runtime, the caller, the body."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import Path, Query, Request
from starlette.datastructures import State

from smsgate.accounts.service import Principal
from smsgate.errors import Forbidden
from smsgate.runtime import Runtime

# Ids are the tables' keys: INTEGER, and BIGINT for messages, sendings, inbound messages and
# webhook deliveries. A larger number names no row, and the databases refuse to compare one
# with a key (PostgreSQL casts it to the key's type; SQLite binds no more than 64 bits).
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BigPathId = Annotated[int, Path(ge=1, le=MAX_BIG_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
BigQueryId = Annotated[int | None, Query(ge=1, le=MAX_BIG_ID)]

# What msgspec raises for a body that is not JSON: malformed, invalid UTF-8 inside a string
# (a UnicodeDecodeError, not a DecodeError), or nested deeper than the recursion limit.
BAD_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


# Where ``smsgate.app.Gateway`` puts its state in every request's scope. Not ``request.app``:
# FastAPI sets that to the route table, which the gateways of one process share.
STATE_KEY = "smsgate.state"


def served(request: Request) -> State:
    """The state of the gateway serving this request: its runtime, its dashboard's state,
    and what surfaces keep for it (rate limiters)."""
    state: State = request.scope[STATE_KEY]
    return state


def runtime(request: Request) -> Runtime:
    rt: Runtime = served(request).runtime
    return rt


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request, token: str | None) -> Principal:
    """The token's principal; failures count against the caller's address (429 when many).
    A failure is counted in the database: for sync routes and dependencies (a worker
    thread); ``async def`` routes use ``authenticate_async``."""
    return runtime(request).auth.principal(token, client_address(request))


async def authenticate_async(request: Request, token: str | None) -> Principal:
    """``authenticate`` on the event loop: a failure's write runs on a worker thread."""
    return await runtime(request).auth.principal_async(token, client_address(request))


def customer(request: Request) -> Principal:
    return _customer_only(authenticate(request, bearer(request)))


async def customer_async(request: Request) -> Principal:
    """``customer`` for an ``async def`` route."""
    return _customer_only(await authenticate_async(request, bearer(request)))


def _customer_only(principal: Principal) -> Principal:
    if principal.account_id is None:
        raise Forbidden("this route needs a customer token", code="customer_only")
    return principal


async def read_body(request: Request) -> bytes:
    """The whole body; its size is already limited by ``surfaces.limits.BodyLimit``."""
    return await request.body()


def operator(request: Request) -> Principal:
    """The caller, who must hold an operator token (customer tokens never have that scope)."""
    principal = authenticate(request, bearer(request))
    if not principal.is_operator:
        raise Forbidden("this route needs an operator token", code="operator_only")
    return principal


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def actor(principal: Principal) -> str:
    """How the audit log names a caller."""
    return f"token:{principal.token_id}"
