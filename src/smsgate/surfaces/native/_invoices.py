"""``/v1/invoices``: top-up invoices of the calling account, as JSON and as PDF."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from smsgate.accounts.service import Principal, get_account
from smsgate.billing import invoices
from smsgate.billing.documents import invoice_pdf
from smsgate.billing.models import Invoice, InvoiceStatus
from smsgate.billing.schemas import InvoiceIn, InvoiceOut, InvoicePage
from smsgate.errors import InvalidRequest
from smsgate.kit.money import InvalidAmount, format_amount, parse_amount
from smsgate.surfaces.deps import MAX_BIG_ID, PathId, customer, runtime

router = APIRouter(tags=["invoices"])
Customer = Annotated[Principal, Depends(customer)]


def _account_id(principal: Principal) -> int:
    assert principal.account_id is not None
    return principal.account_id


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        type=invoice.invoice_type,
        status=invoice.status,
        amount=format_amount(invoice.amount),
        tax=format_amount(invoice.tax),
        total=format_amount(invoice.amount + invoice.tax),
        currency=invoice.currency,
        comment=invoice.comment,
        created_at=invoice.created_at,
        paid_at=invoice.paid_at,
        cancelled_at=invoice.cancelled_at,
    )


def pdf_filename(number: str) -> str:
    """``C13294/20210323`` -> ``invoice-C13294-20210323.pdf`` (safe in a header and a path)."""
    return "invoice-" + re.sub(r"[^A-Za-z0-9._-]", "-", number) + ".pdf"


@router.get("/v1/invoices", response_model=InvoicePage, summary="Invoices, newest first")
def list_invoices(
    request: Request,
    principal: Customer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_BIG_ID)] = 0,
    status: InvoiceStatus | None = None,
) -> InvoicePage:
    with runtime(request).db.read() as session:
        rows, total = invoices.list_invoices(
            session, _account_id(principal), limit=limit, offset=offset, status=status
        )
    return InvoicePage(invoices=[invoice_out(i) for i in rows], total=total)


@router.post(
    "/v1/invoices", response_model=InvoiceOut, status_code=201, summary="Create a top-up invoice"
)
def create_invoice(body: InvoiceIn, request: Request, principal: Customer) -> InvoiceOut:
    try:
        amount = parse_amount(body.amount)
    except InvalidAmount as exc:
        raise InvalidRequest(str(exc), field="amount", code="invalid_amount") from None
    rt = runtime(request)
    with rt.db.write() as session:
        invoice = invoices.create_invoice(
            session,
            _account_id(principal),
            amount,
            kind=body.kind,
            invoice_type=body.type,
            settings=rt.settings,
        )
        return invoice_out(invoice)


# Declared before "/v1/invoices/{invoice_id}", which would otherwise take "7.pdf" as its id.
@router.get(
    "/v1/invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The invoice as PDF"}},
    summary="One invoice as PDF",
)
def get_invoice_pdf(invoice_id: PathId, request: Request, principal: Customer) -> Response:
    rt = runtime(request)
    with rt.db.read() as session:
        invoice = invoices.get_invoice(session, _account_id(principal), invoice_id)
        account = get_account(session, invoice.account_id)
    disposition = f'attachment; filename="{pdf_filename(invoice.number)}"'
    return Response(
        invoice_pdf(invoice, account, rt.settings),
        media_type="application/pdf",
        headers={"Content-Disposition": disposition},
    )


@router.get("/v1/invoices/{invoice_id}", response_model=InvoiceOut, summary="One invoice")
def get_invoice(invoice_id: PathId, request: Request, principal: Customer) -> InvoiceOut:
    with runtime(request).db.read() as session:
        return invoice_out(invoices.get_invoice(session, _account_id(principal), invoice_id))
