"""Invoices of every account: find one, confirm its payment (which credits the balance
through the ledger) or cancel it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.billing import invoices
from smsgate.billing.models import Invoice, InvoiceStatus
from smsgate.dashboard.pages._admin_common import PAGE, accounts_by_id, id_of, who
from smsgate.dashboard.web import Operator, page_router, render, runtime, see_other
from smsgate.errors import NotFound
from smsgate.surfaces.deps import MAX_BIG_ID, PathId

router = page_router()


@router.get("/admin/invoices")
def invoice_list(
    request: Request,
    viewer: Operator,
    status: Annotated[str, Query(max_length=20)] = "",
    account: Annotated[str, Query(max_length=12)] = "",
    number: Annotated[str, Query(max_length=40)] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_BIG_ID)] = 0,
    done: str = "",
) -> Response:
    number, account_id = number.strip(), id_of(account, "account")
    with runtime(request).db.read() as session:
        if number:
            rows = _by_number(session, number)
            total = len(rows)
        else:
            rows, total = invoices.list_invoices(
                session, account_id, limit=PAGE, offset=offset, status=status or None
            )
        accounts = accounts_by_id(session, (i.account_id for i in rows))
    filters = {"status": status, "account": account.strip(), "number": number}
    context = {
        "rows": rows,
        "total": total,
        "accounts": accounts,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "statuses": [s.value for s in InvoiceStatus],
        "offset": offset,
        "page": PAGE,
        "done": done,
    }
    return render(request, "admin/invoices.html", context)


def _by_number(session: Session, number: str) -> list[Invoice]:
    try:
        return [invoices.find_by_number(session, number)]
    except NotFound:
        return []


@router.post("/admin/invoices/{invoice_id}/pay")
def pay(request: Request, viewer: Operator, invoice_id: PathId) -> Response:
    with runtime(request).db.write() as session:
        invoice = invoices.get_invoice(session, None, invoice_id)
        invoices.pay_invoice(session, invoice, **who(request, viewer))
        number = invoice.number
    return see_other("/admin/invoices?" + urlencode({"number": number, "done": "paid"}))


@router.post("/admin/invoices/{invoice_id}/cancel")
def cancel(request: Request, viewer: Operator, invoice_id: PathId) -> Response:
    with runtime(request).db.write() as session:
        invoice = invoices.get_invoice(session, None, invoice_id)
        invoices.cancel_invoice(session, invoice, **who(request, viewer))
        number = invoice.number
    return see_other("/admin/invoices?" + urlencode({"number": number, "done": "cancelled"}))
