"""Invoices: create a top-up invoice, see whether it is paid, download its PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.accounts.service import get_account
from smsgate.billing import documents, invoices
from smsgate.billing.models import BalanceKind
from smsgate.dashboard.web import Customer, account_of, page_router, render, runtime, see_other
from smsgate.errors import InvalidRequest
from smsgate.kit.money import InvalidAmount, parse_amount
from smsgate.surfaces.native._invoices import pdf_filename

router = page_router()
PAGE = 50


@router.get("/app/invoices")
def invoice_list(
    request: Request, viewer: Customer, offset: Annotated[int, Query(ge=0)] = 0, done: str = ""
) -> Response:
    with runtime(request).db.read() as session:
        rows, total = invoices.list_invoices(session, account_of(viewer), limit=PAGE, offset=offset)
    context = {
        "rows": rows,
        "total": total,
        "offset": offset,
        "page": PAGE,
        "kinds": [k.value for k in BalanceKind],
        "done": done,
    }
    return render(request, "app/invoices.html", context)


@router.post("/app/invoices")
def create(
    request: Request,
    viewer: Customer,
    amount: Annotated[str, Form(max_length=40)],
    kind: Annotated[str, Form(max_length=10)] = "sms",
) -> Response:
    if kind not in set(BalanceKind):
        raise InvalidRequest(f"unknown balance {kind!r}", field="kind")
    try:
        value = parse_amount(amount.replace(",", ".").replace(" ", ""))
    except InvalidAmount as exc:
        raise InvalidRequest(str(exc), field="amount", code="invalid_amount") from None
    rt = runtime(request)
    with rt.db.write() as session:
        invoices.create_invoice(
            session, account_of(viewer), value, kind=BalanceKind(kind), settings=rt.settings
        )
    return see_other("/app/invoices?done=created")


# Declared before any "/app/invoices/{invoice_id}" page, which would take "7.pdf" as its id.
@router.get("/app/invoices/{invoice_id}.pdf")
async def invoice_pdf(request: Request, viewer: Customer, invoice_id: int) -> Response:
    rt = runtime(request)

    def load() -> tuple[bytes, str]:
        with rt.db.read() as session:
            invoice = invoices.get_invoice(session, account_of(viewer), invoice_id)
            account = get_account(session, invoice.account_id)
            return documents.invoice_pdf(invoice, account, rt.settings), invoice.number

    pdf, number = await run_in_threadpool(load)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf_filename(number)}"',
            "Cache-Control": "no-store",
        },
    )
