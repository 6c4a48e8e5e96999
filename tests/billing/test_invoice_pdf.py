"""The invoice PDF: its text, read back with pypdf, in Russian and in English.

Rendering does not depend on the database engine, so these run on SQLite only.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from smsgate.accounts.models import Account
from smsgate.accounts.service import create_account
from smsgate.billing import invoices
from smsgate.billing.models import BalanceKind, Invoice
from smsgate.billing.pdf import amount_in_words, money_text, render_invoice_pdf
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.errors import Unavailable


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: overrides the suite's two-engine fixture for this module."""
    target = tmp_path / "smsgate.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


CREATED = datetime(2021, 3, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def operator(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "operator_name": "ООО «СМС Шлюз»",
            # typed in one environment variable: "\n" arrives as two characters
            "operator_details": "УНП 190000001\\nг. Минск, ул. Победителей, 7\\nIBAN BY00 0000",
            "invoice_tax_rate": Decimal("0.2"),
        }
    )


def issue(
    db: Database,
    settings: Settings,
    *,
    name: str,
    language: str,
    currency: str,
    details: str = "",
    email: str = "",
    amount: str = "500",
    kind: BalanceKind = BalanceKind.SMS,
) -> tuple[Invoice, Account]:
    with db.write() as session:
        account = create_account(session, name, currency=currency)
        account.language, account.billing_details, account.email = language, details, email
        session.flush()
        invoice = invoices.create_invoice(
            session, account.id, Decimal(amount), kind=kind, settings=settings, now=CREATED
        )
        return invoice, account


def open_files(path: Path) -> int:
    """How many descriptors of this process are open on ``path`` (Linux)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            count += Path(os.readlink(fd)) == path
    return count


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_russian_invoice(db: Database, operator: Settings) -> None:
    invoice, account = issue(
        db,
        operator,
        name="ООО Ромашка",
        language="ru",
        currency="EUR",
        details="УНП 123456789\nг. Брест, ул. Советская, 1",
        email="buh@romashka.by",
    )
    text = text_of(render_invoice_pdf(invoice, account, operator))
    for expected in (
        f"Счёт № {invoice.number}",
        "Дата выставления: 23.03.2021",
        "Статус: не оплачен",
        "Поставщик",
        "ООО «СМС Шлюз»",
        "УНП 190000001",
        "г. Минск, ул. Победителей, 7",
        "Покупатель",
        "ООО Ромашка",
        "г. Брест, ул. Советская, 1",
        "buh@romashka.by",
        "Пополнение SMS-баланса на 500.00 EUR",
        "500,00 EUR",  # the line and the subtotal
        "100,00 EUR",  # tax at 20 %
        "Всего к оплате 600,00 EUR",
        "Сумма прописью: Шестьсот евро 00 центов",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "\\n" not in text


def test_english_invoice_once_paid(db: Database, operator: Settings) -> None:
    invoice, account = issue(
        db,
        operator,
        name="Acme Ltd",
        language="en",
        currency="USD",
        amount="1234.50",
        kind=BalanceKind.VIBER,
    )
    with db.write() as session:
        invoice = invoices.pay_invoice(
            session, invoice, actor="cli:test", now=datetime(2021, 3, 25, 8, 0, tzinfo=UTC)
        )
    text = text_of(render_invoice_pdf(invoice, account, operator))
    for expected in (
        f"Invoice No. {invoice.number}",
        "Date of issue: 23 March 2021",
        "Status: paid on 25 March 2021",
        "Supplier",
        "Customer",
        "Acme Ltd",
        "Top up your Viber balance with 1234.50 USD",
        "1,234.50 USD",
        "246.90 USD",
        "Total 1,481.40 USD",
        "Amount in words: One thousand, four hundred and eighty-one dollars and 40 cents",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_same_invoice_same_bytes_and_no_file_left_open(db: Database, operator: Settings) -> None:
    invoice, account = issue(db, operator, name="Acme", language="en", currency="EUR")
    before = open_files(operator.invoice_font)
    assert render_invoice_pdf(invoice, account, operator) == render_invoice_pdf(
        invoice, account, operator
    )
    assert open_files(operator.invoice_font) == before


def test_other_languages_fall_back_to_english(db: Database, operator: Settings) -> None:
    invoice, account = issue(db, operator, name="Firma", language="de", currency="EUR")
    text = text_of(render_invoice_pdf(invoice, account, operator))
    assert "Invoice No." in text
    assert "Six hundred euro and 00 cents" in text  # 500 + 20 % tax


@pytest.mark.parametrize(
    ("amount", "currency", "language", "words"),
    [
        ("500", "EUR", "ru", "пятьсот евро 00 центов"),
        ("500", "EUR", "en", "five hundred euro and 00 cents"),
        ("21.01", "RUB", "ru", "двадцать один рубль 01 копейка"),
        ("2.50", "BYN", "ru", "два белорусских рубля 50 копеек"),
        ("1", "USD", "en", "one dollar and 00 cents"),
        # currencies num2words cannot name: the number in words and the code
        ("12.30", "GBP", "ru", "двенадцать GBP 30/100"),
        ("7", "XAF", "en", "seven XAF 00/100"),
    ],
)
def test_amount_in_words(amount: str, currency: str, language: str, words: str) -> None:
    assert amount_in_words(Decimal(amount), currency, language) == words


def test_money_text() -> None:
    assert money_text(Decimal("1234567.5"), "en") == "1,234,567.50"
    assert money_text(Decimal("1234567.5"), "ru") == "1 234 567,50"
    assert money_text(Decimal("0.005"), "en") == "0.01"


@pytest.mark.parametrize("setting", ["invoice_font", "invoice_font_bold"])
def test_missing_font_is_a_clear_error(
    db: Database, operator: Settings, tmp_path: Path, setting: str
) -> None:
    invoice, account = issue(db, operator, name="Acme", language="en", currency="EUR")
    missing = tmp_path / "NoSuchFont.ttf"
    settings = operator.model_copy(update={setting: missing})
    before = open_files(operator.invoice_font)
    with pytest.raises(Unavailable) as caught:
        render_invoice_pdf(invoice, account, settings)
    assert open_files(operator.invoice_font) == before  # the other font was not left open
    assert caught.value.code == "invoice_font_missing"
    assert str(missing) in caught.value.message
    assert f"SMSGATE_{setting.upper()}" in caught.value.message


def test_a_file_that_is_not_a_font(db: Database, operator: Settings, tmp_path: Path) -> None:
    invoice, account = issue(db, operator, name="Acme", language="en", currency="EUR")
    fake = tmp_path / "fake.ttf"
    fake.write_text("not a font")
    with pytest.raises(Unavailable) as caught:
        render_invoice_pdf(invoice, account, operator.model_copy(update={"invoice_font": fake}))
    assert open_files(fake) == 0
    assert caught.value.code == "invoice_font_invalid"
    assert str(fake) in caught.value.message
