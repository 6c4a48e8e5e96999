"""An invoice as a PDF a company can send and file: fpdf2 with TTF fonts, in en or ru.

Only TrueType fonts are used (``SMSGATE_INVOICE_FONT``, ``SMSGATE_INVOICE_FONT_BOLD``):
fpdf's built-in core fonts have no Cyrillic. The output is deterministic: the PDF's creation
date is the invoice's, so the same invoice renders to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace, TTFFont
from num2words import num2words  # type: ignore[import-untyped]

from smsgate.accounts.models import Account
from smsgate.billing.invoices import language_of
from smsgate.billing.models import Invoice, InvoiceStatus
from smsgate.config import Settings
from smsgate.errors import Unavailable
from smsgate.kit.money import round_money

_FAMILY = "InvoiceSans"
_BOLD = FontFace(emphasis="BOLD")


@dataclass(frozen=True, slots=True)
class _Labels:
    title: str
    issued: str
    status: str
    unpaid: str
    paid: str
    cancelled: str
    supplier: str
    customer: str
    row_no: str
    description: str
    quantity: str
    price: str
    line_total: str
    subtotal: str
    tax: str
    total: str
    in_words: str
    reference: str
    thousands: str
    decimal: str


_LABELS = {
    "en": _Labels(
        title="Invoice No. {number}",
        issued="Date of issue: {date}",
        status="Status: {status}",
        unpaid="unpaid",
        paid="paid on {date}",
        cancelled="cancelled on {date}",
        supplier="Supplier",
        customer="Customer",
        row_no="No.",
        description="Description",
        quantity="Qty",
        price="Price",
        line_total="Amount",
        subtotal="Subtotal",
        tax="Tax",
        total="Total",
        in_words="Amount in words: {words}",
        reference="Please quote invoice number {number} in the payment reference.",
        thousands=",",
        decimal=".",
    ),
    "ru": _Labels(
        title="Счёт № {number}",
        issued="Дата выставления: {date}",
        status="Статус: {status}",
        unpaid="не оплачен",
        paid="оплачен {date}",
        cancelled="аннулирован {date}",
        supplier="Поставщик",
        customer="Покупатель",
        row_no="№",
        description="Наименование",
        quantity="Кол-во",
        price="Цена",
        line_total="Сумма",
        subtotal="Итого",
        tax="Налог",
        total="Всего к оплате",
        in_words="Сумма прописью: {words}",
        reference="При оплате укажите номер счёта {number} в назначении платежа.",
        thousands=" ",
        decimal=",",
    ),
}


def money_text(amount: Decimal, language: str) -> str:
    """``1234.5`` -> ``1,234.50`` (en) or ``1 234,50`` (ru)."""
    labels = _LABELS[language_of(language)]
    whole, _, cents = f"{round_money(amount, 2):,.2f}".partition(".")
    return whole.replace(",", labels.thousands) + labels.decimal + cents


def amount_in_words(amount: Decimal, currency: str, language: str) -> str:
    """``500`` EUR -> "пятьсот евро 00 центов" (ru) or "five hundred euro and 00 cents" (en).

    Currencies num2words does not name in that language read as the number in words and
    the code: "five hundred XYZ 00/100".
    """
    lang = language_of(language)
    value = round_money(amount, 2)
    try:
        words: str = num2words(
            value,
            lang=lang,
            to="currency",
            currency=currency,
            cents=False,
            separator=" and" if lang == "en" else "",
        )
    except NotImplementedError:
        whole, cents = divmod(int(value * 100), 100)
        words = f"{num2words(whole, lang=lang)} {currency} {cents:02d}/100"
    return words


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _date(moment: datetime, lang: str) -> str:
    """The date in UTC, like the invoice number's; month names do not follow the locale."""
    day = moment.astimezone(UTC).date()
    if lang == "ru":
        return f"{day:%d.%m.%Y}"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


# The first four bytes of a TrueType or OpenType file (or a collection of them).
_FONT_SIGNATURES = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"ttcf")


def _check_font(path: Path, variable: str) -> None:
    if not Path(path).is_file():
        raise Unavailable(
            f"invoice font not found at {path}; set {variable}", code="invoice_font_missing"
        )
    # Checked here because fontTools, given a file that is not a font, fails and leaves
    # the file open.
    try:
        with Path(path).open("rb") as file:
            signature = file.read(4)
    except OSError as exc:
        raise Unavailable(
            f"invoice font at {path} cannot be read ({exc.strerror}); set {variable}",
            code="invoice_font_invalid",
        ) from exc
    if signature not in _FONT_SIGNATURES:
        raise Unavailable(
            f"invoice font at {path} is not a TrueType or OpenType file; set {variable}",
            code="invoice_font_invalid",
        )


def _load_fonts(pdf: FPDF, settings: Settings) -> None:
    fonts = (
        ("", settings.invoice_font, "SMSGATE_INVOICE_FONT"),
        ("B", settings.invoice_font_bold, "SMSGATE_INVOICE_FONT_BOLD"),
    )
    for _, path, variable in fonts:
        _check_font(path, variable)
    for style, path, variable in fonts:
        try:
            pdf.add_font(_FAMILY, style, str(path))
        except Exception as exc:  # a damaged font fails in fontTools in many different ways
            raise Unavailable(
                f"invoice font at {path} cannot be read ({exc}); set {variable}",
                code="invoice_font_invalid",
            ) from exc


def _close_fonts(pdf: FPDF) -> None:
    # fpdf closes a font file only once it has written its subset; after an error, or for
    # a font no text used, the file would stay open until garbage collection.
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.close()


def _status_line(invoice: Invoice, lang: str) -> str:
    labels = _LABELS[lang]
    if invoice.status == InvoiceStatus.PAID and invoice.paid_at is not None:
        state = labels.paid.format(date=_date(invoice.paid_at, lang))
    elif invoice.status == InvoiceStatus.CANCELLED and invoice.cancelled_at is not None:
        state = labels.cancelled.format(date=_date(invoice.cancelled_at, lang))
    else:
        state = labels.unpaid
    return labels.status.format(status=state)


def _lines(*blocks: str) -> str:
    """The non-empty lines of the blocks, stripped, one per line."""
    lines = (line.strip() for block in blocks for line in block.splitlines())
    return "\n".join(line for line in lines if line)


class _Invoice:
    """One invoice being drawn: the document, its language and its currency."""

    def __init__(self, pdf: FPDF, invoice: Invoice) -> None:
        self.pdf = pdf
        self.invoice = invoice
        self.lang = language_of(invoice.language)
        self.labels = _LABELS[self.lang]
        self.width = pdf.epw

    def money(self, amount: Decimal) -> str:
        return f"{money_text(amount, self.lang)} {self.invoice.currency}"

    def line(self, text: str, height: float = 6) -> None:
        self.pdf.multi_cell(self.width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def header(self) -> None:
        inv, labels = self.invoice, self.labels
        self.pdf.set_font(_FAMILY, "B", 18)
        self.line(labels.title.format(number=inv.number), 10)
        self.pdf.set_font(_FAMILY, "", 10)
        self.line(labels.issued.format(date=_date(inv.created_at, self.lang)))
        self.line(_status_line(inv, self.lang))
        self.pdf.ln(6)

    def parties(self, account: Account, settings: Settings) -> None:
        # Settings come from one environment variable, where "\n" is typed as two characters.
        supplier = _lines(settings.operator_name, settings.operator_details.replace("\\n", "\n"))
        customer = _lines(account.name, account.billing_details, account.email)
        with self.pdf.table(
            col_widths=(1, 1),
            borders_layout=TableBordersLayout.NONE,
            headings_style=_BOLD,
            line_height=5.5,
            padding=(1, 4, 1, 0),
        ) as table:
            heading = table.row()
            heading.cell(self.labels.supplier)
            heading.cell(self.labels.customer)
            body = table.row()
            body.cell(supplier)
            body.cell(customer)
        self.pdf.ln(8)

    def items(self) -> None:
        inv, labels = self.invoice, self.labels
        self.pdf.set_font(_FAMILY, "", 9)
        with self.pdf.table(
            col_widths=(10, 80, 18, 31, 31),
            text_align=(Align.C, Align.L, Align.C, Align.R, Align.R),
            headings_style=_BOLD,
            line_height=6,
            padding=(1.5, 1.5),
        ) as table:
            heading = table.row()
            for text in (labels.row_no, labels.description, labels.quantity, labels.price):
                heading.cell(text)
            heading.cell(labels.line_total)
            row = table.row()
            for text in ("1", inv.comment, "1", self.money(inv.amount), self.money(inv.amount)):
                row.cell(text)
        self.pdf.ln(4)

    def totals(self) -> None:
        inv, labels = self.invoice, self.labels
        label_width = value_width = 45.0
        for label, value, style in (
            (labels.subtotal, inv.amount, ""),
            (labels.tax, inv.tax, ""),
            (labels.total, inv.amount + inv.tax, "B"),
        ):
            self.pdf.set_font(_FAMILY, style, 11 if style else 10)
            self.pdf.set_x(self.pdf.l_margin + self.width - label_width - value_width)
            self.pdf.cell(label_width, 7, label, align=Align.L)
            self.pdf.cell(value_width, 7, self.money(value), align=Align.R)
            self.pdf.ln()
        self.pdf.ln(6)

    def footer(self) -> None:
        inv, labels = self.invoice, self.labels
        words = amount_in_words(inv.amount + inv.tax, inv.currency, self.lang)
        self.pdf.set_font(_FAMILY, "", 10)
        self.line(labels.in_words.format(words=words[:1].upper() + words[1:]))
        self.pdf.ln(2)
        self.line(labels.reference.format(number=inv.number))


def render_invoice_pdf(invoice: Invoice, account: Account, settings: Settings) -> bytes:
    """The invoice as PDF bytes, labelled in the invoice's language (ru, else en)."""
    pdf = FPDF(format="A4", unit="mm")
    try:
        _load_fonts(pdf, settings)
        _draw(pdf, invoice, account, settings)
        return bytes(pdf.output())
    finally:
        _close_fonts(pdf)


def _draw(pdf: FPDF, invoice: Invoice, account: Account, settings: Settings) -> None:
    lang = language_of(invoice.language)
    pdf.set_creation_date(invoice.created_at)
    pdf.set_creator("smsgate")
    pdf.set_producer("smsgate")
    pdf.set_author(settings.operator_name)
    pdf.set_title(_LABELS[lang].title.format(number=invoice.number))
    pdf.set_lang(lang)
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    page = _Invoice(pdf, invoice)
    page.header()
    page.parties(account, settings)
    page.items()
    page.totals()
    page.footer()
