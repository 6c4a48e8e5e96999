"""Documents made from billing records, loaded on demand.

fpdf2 brings Pillow and numpy with it: most of a second of start-up for every process that
mounts the invoice routes (the API, the dashboard, each test server), although few requests
ask for a PDF. ``billing.pdf`` is therefore imported with the first PDF, here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsgate.accounts.models import Account
    from smsgate.billing.models import Invoice
    from smsgate.config import Settings


def invoice_pdf(invoice: Invoice, account: Account, settings: Settings) -> bytes:
    """The invoice as a PDF (``billing.pdf.render_invoice_pdf``)."""
    from smsgate.billing.pdf import render_invoice_pdf

    return render_invoice_pdf(invoice, account, settings)
