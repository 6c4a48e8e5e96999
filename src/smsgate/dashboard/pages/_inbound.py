"""Inbound messages (MO) and the opt-out list."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from starlette.responses import Response

from smsgate.dashboard.web import Customer, account_of, page_router, render, runtime, see_other
from smsgate.inbound import service as inbound
from smsgate.kit.time import utcnow

router = page_router()
PAGE = 50


@router.get("/app/inbound")
def inbound_page(
    request: Request, viewer: Customer, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    with runtime(request).db.read() as session:
        rows = inbound.list_inbound(session, account_of(viewer), limit=PAGE, before_id=before)
    older = rows[-1].id if len(rows) == PAGE else None
    return render(request, "app/inbound.html", {"rows": rows, "older": older})


@router.get("/app/opt-outs")
def opt_outs(request: Request, viewer: Customer, done: str = "") -> Response:
    with runtime(request).db.read() as session:
        rows = inbound.list_opt_outs(session, account_of(viewer))
    return render(request, "app/opt_outs.html", {"rows": rows, "done": done})


@router.post("/app/opt-outs")
def add(
    request: Request, viewer: Customer, msisdn: Annotated[str, Form(max_length=40)]
) -> Response:
    with runtime(request).db.write() as session:
        inbound.add_opt_out(session, account_of(viewer), msisdn, utcnow())
    return see_other("/app/opt-outs?done=added")


@router.post("/app/opt-outs/{msisdn}/remove")
def remove(request: Request, viewer: Customer, msisdn: str) -> Response:
    with runtime(request).db.write() as session:
        inbound.remove_opt_out(session, account_of(viewer), msisdn)
    return see_other("/app/opt-outs?done=removed")
