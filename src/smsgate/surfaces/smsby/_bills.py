"""Invoices, sms.by's "bills" (seed 000): list, create, download."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.accounts.service import get_account
from smsgate.billing.documents import invoice_pdf
from smsgate.billing.invoices import create_invoice, get_invoice, list_invoices
from smsgate.billing.models import BalanceKind, Invoice, InvoiceType
from smsgate.errors import InvalidRequest
from smsgate.surfaces.smsby._transport import Call, DataNotVerified, answer, command, unix

PER_PAGE = 15  # Laravel's default page size, as in the seed
_MAX_PAGE = 2**31 - 1
_PAGE = re.compile(r"^\s*[+-]?[0-9]{1,10}\s*$")


def _page(raw: str | None) -> int:
    """Laravel's page resolver: a whole number of at least 1, anything else is page 1."""
    if raw is None or not _PAGE.match(raw) or int(raw) < 1:
        return 1
    return min(int(raw), _MAX_PAGE)


def _bill(invoice: Invoice) -> dict[str, object]:
    return {
        "id": invoice.id,
        "user_id": invoice.account_id,
        "d_create": str(unix(invoice.created_at)),
        "d_payment": unix(invoice.paid_at) if invoice.paid_at is not None else 0,
        "amount": f"{invoice.amount:.2f}",
        "manager_id": 0,
        "comment": invoice.comment,
        "info": "0",
        "type": invoice.kind.upper(),
        "rent": "1" if invoice.invoice_type == InvoiceType.SUBSCRIPTION else "0",
        "number": invoice.number,
    }


@command("getBills")
async def get_bills(call: Call) -> Response:
    page = _page(call.get("page"))
    rows, total = await call.read(
        lambda s: list_invoices(s, call.account_id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    )
    last_page = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    path = str(call.request.url.replace(query="", fragment=""))
    first = (page - 1) * PER_PAGE + 1
    # The Laravel 5.1-5.4 LengthAwarePaginator, key order included.
    paginator = {
        "total": total,
        "per_page": PER_PAGE,
        "current_page": page,
        "last_page": last_page,
        "next_page_url": f"{path}?page={page + 1}" if last_page > page else None,
        "prev_page_url": f"{path}?page={page - 1}" if page > 1 else None,
        "from": first if rows else None,
        "to": first + len(rows) - 1 if rows else None,
        "data": [_bill(invoice) for invoice in rows],
    }
    return answer({"status": "success", "data": paginator})


def _bill_request(call: Call) -> tuple[int, BalanceKind, InvoiceType]:
    raw = call.require("amount").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 15) or int(raw) < 1:
        raise InvalidRequest(
            f"amount must be a whole number greater than 0, not {raw[:40]!r}", field="amount"
        )
    kind_text = call.require("amount_type").strip().lower()
    if kind_text not in set(BalanceKind):
        raise InvalidRequest("amount_type must be sms or viber", field="amount_type")
    kind = BalanceKind(kind_text)
    type_text = (call.get("type") or "").strip().lower()
    if not type_text:
        if kind is BalanceKind.VIBER:
            raise InvalidRequest(
                "type is required for a viber bill: subscription or replenishment", field="type"
            )
        type_text = InvoiceType.REPLENISHMENT
    if type_text not in set(InvoiceType):
        raise InvalidRequest("type must be subscription or replenishment", field="type")
    return int(raw), kind, InvoiceType(type_text)


@command("createBill")
async def create_bill(call: Call) -> Response:
    try:
        amount, kind, invoice_type = _bill_request(call)

        def work(session: Session) -> Invoice:
            return create_invoice(
                session,
                call.account_id,
                Decimal(amount),
                kind=kind,
                invoice_type=invoice_type,
                settings=call.rt.settings,
            )

        invoice = await call.write(work)
    except InvalidRequest as exc:
        raise DataNotVerified(exc.message, code=exc.code, field=exc.field) from exc
    # The seed's echo: types differ from getBills' rows ("sms", 0 where those have "SMS", "0").
    return answer(
        {
            "status": "success",
            "data": {
                "user_id": invoice.account_id,
                "amount": str(amount),
                "d_create": str(unix(invoice.created_at)),
                "d_payment": 0,
                "manager_id": 0,
                "info": 0,
                "type": str(invoice.kind),
                "rent": 1 if invoice.invoice_type == InvoiceType.SUBSCRIPTION else 0,
                "comment": invoice.comment,
                "id": invoice.id,
                "number": invoice.number,
            },
        }
    )


@command("downloadBill")
async def download_bill(call: Call) -> Response:
    bill_id = call.ident("bill_id")

    def work(session: Session) -> tuple[bytes, str]:
        invoice = get_invoice(session, call.account_id, bill_id)
        account = get_account(session, call.account_id)
        return invoice_pdf(invoice, account, call.rt.settings), invoice.number

    pdf, number = await call.read(work)
    filename = re.sub(r"[^A-Za-z0-9_-]+", "-", number) + ".pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
