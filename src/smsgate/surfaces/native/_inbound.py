"""``/v1/inbound`` and ``/v1/opt-outs``: the account's inbound messages and opt-out list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from smsgate.accounts.service import Principal
from smsgate.inbound import service
from smsgate.inbound.models import InboundMessageRow, OptOut
from smsgate.kit.time import utcnow
from smsgate.surfaces.deps import customer, runtime
from smsgate.surfaces.native._messages import parse_cursor

router = APIRouter(tags=["inbound"])
Customer = Annotated[Principal, Depends(customer)]


class InboundOut(BaseModel):
    id: int
    source: str = Field(description="The number that sent it")
    destination: str = Field(description="The account's number or sender it was sent to")
    text: str
    received_at: datetime


class InboundPage(BaseModel):
    messages: list[InboundOut]
    next_cursor: str | None


class OptOutIn(BaseModel):
    msisdn: str = Field(description="The number, international format")


class OptOutOut(BaseModel):
    msisdn: str = Field(description="E.164 digits without '+'")
    keyword: str = Field(description="The word the number sent (STOP, ...), or 'api'")
    created_at: datetime


class OptOutList(BaseModel):
    opt_outs: list[OptOutOut]


def _account_id(principal: Principal) -> int:
    assert principal.account_id is not None
    return principal.account_id


def _inbound_out(row: InboundMessageRow) -> InboundOut:
    return InboundOut(
        id=row.id,
        source=row.source,
        destination=row.destination,
        text=row.text,
        received_at=row.received_at,
    )


def _opt_out(row: OptOut) -> OptOutOut:
    return OptOutOut(msisdn=row.msisdn, keyword=row.keyword, created_at=row.created_at)


@router.get(
    "/v1/inbound", response_model=InboundPage, summary="Inbound messages (MO), newest first"
)
def list_inbound(
    request: Request,
    principal: Customer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> InboundPage:
    with runtime(request).db.read() as session:
        rows = service.list_inbound(
            session, _account_id(principal), limit=limit, before_id=parse_cursor(cursor)
        )
        return InboundPage(
            messages=[_inbound_out(r) for r in rows],
            next_cursor=str(rows[-1].id) if len(rows) == limit else None,
        )


@router.get("/v1/opt-outs", response_model=OptOutList, summary="Numbers that opted out")
def list_opt_outs(request: Request, principal: Customer) -> OptOutList:
    with runtime(request).db.read() as session:
        rows = service.list_opt_outs(session, _account_id(principal))
        return OptOutList(opt_outs=[_opt_out(r) for r in rows])


@router.post(
    "/v1/opt-outs",
    response_model=OptOutOut,
    summary="Opt a number out: sends to it are refused (opted_out) until it is removed",
)
def add_opt_out(body: OptOutIn, request: Request, principal: Customer) -> OptOutOut:
    with runtime(request).db.write() as session:
        return _opt_out(service.add_opt_out(session, _account_id(principal), body.msisdn, utcnow()))


@router.delete(
    "/v1/opt-outs/{msisdn}", status_code=204, summary="Take a number off the opt-out list"
)
def remove_opt_out(msisdn: str, request: Request, principal: Customer) -> Response:
    with runtime(request).db.write() as session:
        service.remove_opt_out(session, _account_id(principal), msisdn)
    return Response(status_code=204)
