"""API tokens: create (shown once), list (never the secret or its hash), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from smsgate.accounts import admin
from smsgate.accounts.models import ApiToken
from smsgate.surfaces.admin._common import Limit, Offset, Operator, who
from smsgate.surfaces.admin.schemas import TokenCreatedOut, TokenIn, TokenOut, TokensPage
from smsgate.surfaces.deps import PathId, runtime

router = APIRouter(tags=["admin: tokens"])


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        account_id=t.account_id,
        scope=t.scope,
        name=t.name,
        prefix=t.prefix,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


def _created(t: ApiToken, plain: str) -> TokenCreatedOut:
    return TokenCreatedOut(**token_out(t).model_dump(), token=plain)


@router.post(
    "/v1/admin/accounts/{account_id}/tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Create a customer token (the secret is shown once)",
)
def create_token(
    account_id: PathId, request: Request, principal: Operator, body: TokenIn | None = None
) -> TokenCreatedOut:
    with runtime(request).db.write() as session:
        token, plain = admin.create_token(
            session, account_id, name=body.name if body else "", **who(request, principal)
        )
        return _created(token, plain)


@router.get(
    "/v1/admin/accounts/{account_id}/tokens",
    response_model=TokensPage,
    summary="Tokens of an account, newest first",
)
def list_tokens(
    account_id: PathId, request: Request, principal: Operator, limit: Limit = 50, offset: Offset = 0
) -> TokensPage:
    with runtime(request).db.read() as session:
        rows, total = admin.list_tokens(session, account_id, limit=limit, offset=offset)
    return TokensPage(tokens=[token_out(t) for t in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/v1/admin/operator-tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Create an operator token (the secret is shown once)",
)
def create_operator_token(
    request: Request, principal: Operator, body: TokenIn | None = None
) -> TokenCreatedOut:
    with runtime(request).db.write() as session:
        token, plain = admin.create_operator_token(
            session, name=body.name if body else "", **who(request, principal)
        )
        return _created(token, plain)


@router.get(
    "/v1/admin/operator-tokens",
    response_model=TokensPage,
    summary="Operator tokens, newest first",
)
def list_operator_tokens(
    request: Request, principal: Operator, limit: Limit = 50, offset: Offset = 0
) -> TokensPage:
    with runtime(request).db.read() as session:
        rows, total = admin.list_tokens(session, None, limit=limit, offset=offset)
    return TokensPage(tokens=[token_out(t) for t in rows], total=total, limit=limit, offset=offset)


@router.delete(
    "/v1/admin/tokens/{token_id}",
    response_model=TokenOut,
    summary="Revoke a token (customer or operator)",
)
def revoke_token(token_id: PathId, request: Request, principal: Operator) -> TokenOut:
    rt = runtime(request)
    with rt.db.write() as session:
        out = token_out(admin.revoke_token(session, token_id, **who(request, principal)))
    rt.auth.forget()  # refused at once by this process; by the others within the cache TTL
    return out
