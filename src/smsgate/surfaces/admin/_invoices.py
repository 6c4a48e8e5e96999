"""Invoices of every account: list, and record a payment or a cancellation.

Invoice numbers contain ``/`` (``C10001/20261124``), which cannot stand in a path segment,
so an invoice is addressed by its numeric id in the path (``/invoices/7/pay``) or by its
number in the query (``/invoices/pay?number=C10001/20261124``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from smsgate.accounts.service import Principal
from smsgate.billing import invoices
from smsgate.billing.models import Invoice, InvoiceStatus
from smsgate.errors import NotFound
from smsgate.kit.money import format_amount
from smsgate.surfaces.admin._common import Limit, Offset, Operator, who
from smsgate.surfaces.admin.schemas import InvoiceOut, InvoicesPage
from smsgate.surfaces.deps import PathId, QueryId, runtime
from smsgate.surfaces.rendering import problem_responses

router = APIRouter(tags=["admin: invoices"])
Number = Annotated[str, Query(min_length=1, max_length=40, description="The invoice number")]


def invoice_out(i: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=i.id,
        number=i.number,
        account_id=i.account_id,
        kind=i.kind,
        type=i.invoice_type,
        amount=format_amount(i.amount),
        tax=format_amount(i.tax),
        currency=i.currency,
        status=i.status,
        comment=i.comment,
        created_at=i.created_at,
        paid_at=i.paid_at,
        paid_by=i.paid_by,
        cancelled_at=i.cancelled_at,
    )


@router.get(
    "/v1/admin/invoices",
    response_model=InvoicesPage,
    summary="Invoices of every account, newest first",
)
def list_invoices(
    request: Request,
    principal: Operator,
    status: InvoiceStatus | None = None,
    account_id: QueryId = None,
    number: Annotated[str | None, Query(max_length=40, description="Just this one")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InvoicesPage:
    with runtime(request).db.read() as session:
        if number is None:
            rows, total = invoices.list_invoices(
                session, account_id, limit=limit, offset=offset, status=status
            )
        else:
            matching = [
                i
                for i in _by_number(session, number)
                if account_id in (None, i.account_id) and status in (None, i.status)
            ]
            rows, total = matching[offset : offset + limit], len(matching)
        return InvoicesPage(
            invoices=[invoice_out(i) for i in rows], total=total, limit=limit, offset=offset
        )


def _by_number(session: Session, number: str) -> list[Invoice]:
    try:
        return [invoices.find_by_number(session, number)]
    except NotFound:
        return []


def _act(
    request: Request, principal: Principal, find: Callable[[Session], Invoice], *, pay: bool
) -> InvoiceOut:
    action = invoices.pay_invoice if pay else invoices.cancel_invoice
    with runtime(request).db.write() as session:
        return invoice_out(action(session, find(session), **who(request, principal)))


@router.get("/v1/admin/invoices/{invoice_id}", response_model=InvoiceOut, summary="One invoice")
def read_invoice(invoice_id: PathId, request: Request, principal: Operator) -> InvoiceOut:
    with runtime(request).db.read() as session:
        return invoice_out(invoices.get_invoice(session, None, invoice_id))


@router.post(
    "/v1/admin/invoices/pay",
    response_model=InvoiceOut,
    summary="Record the payment of the invoice numbered ?number= (credits the balance)",
    responses=problem_responses(404),
)
def pay_by_number(number: Number, request: Request, principal: Operator) -> InvoiceOut:
    return _act(request, principal, lambda s: invoices.find_by_number(s, number), pay=True)


@router.post(
    "/v1/admin/invoices/cancel",
    response_model=InvoiceOut,
    summary="Cancel the unpaid invoice numbered ?number=",
    responses=problem_responses(404),
)
def cancel_by_number(number: Number, request: Request, principal: Operator) -> InvoiceOut:
    return _act(request, principal, lambda s: invoices.find_by_number(s, number), pay=False)


@router.post(
    "/v1/admin/invoices/{invoice_id}/pay",
    response_model=InvoiceOut,
    summary="Record an invoice's payment (credits the balance)",
)
def pay(invoice_id: PathId, request: Request, principal: Operator) -> InvoiceOut:
    return _act(request, principal, lambda s: invoices.get_invoice(s, None, invoice_id), pay=True)


@router.post(
    "/v1/admin/invoices/{invoice_id}/cancel",
    response_model=InvoiceOut,
    summary="Cancel an unpaid invoice",
)
def cancel(invoice_id: PathId, request: Request, principal: Operator) -> InvoiceOut:
    return _act(request, principal, lambda s: invoices.get_invoice(s, None, invoice_id), pay=False)
