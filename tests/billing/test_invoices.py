"""Invoices at the service level, on SQLite and PostgreSQL: numbering, payment, cancellation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from smsgate.accounts.service import create_account
from smsgate.audit.service import list_entries as audit_entries
from smsgate.billing import invoices, ledger
from smsgate.billing.models import (
    BalanceKind,
    Invoice,
    InvoiceStatus,
    InvoiceType,
    LedgerEntry,
)
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.errors import InvalidRequest, NotFound, SmsgateError

SEED_DAY = datetime(2021, 3, 23, 12, 30, tzinfo=UTC)


def make_account(
    db: Database,
    *,
    name: str = "Acme",
    currency: str = "EUR",
    language: str = "en",
    balance: Decimal = Decimal(0),
) -> int:
    with db.write() as session:
        account = create_account(session, name, currency=currency, balance=balance)
        account.language = language  # no service sets it yet
        return account.id


def issue(
    db: Database, settings: Settings, account_id: int, amount: str = "500", **kw: object
) -> Invoice:
    with db.write() as session:
        return invoices.create_invoice(
            session, account_id, Decimal(amount), settings=settings, **kw
        )


def pay(db: Database, invoice: Invoice, actor: str = "cli:test") -> Invoice:
    with db.write() as session:
        return invoices.pay_invoice(session, invoice, actor=actor, address="203.0.113.9")


def cancel(db: Database, invoice: Invoice) -> Invoice:
    with db.write() as session:
        return invoices.cancel_invoice(session, invoice, actor="cli:test")


def topups(db: Database, account_id: int) -> list[LedgerEntry]:
    with db.read() as session:
        return [
            e
            for e in ledger.list_entries(session, account_id, limit=100)
            if e.reference.startswith("invoice:")
        ]


def refused(code: str, call: object) -> SmsgateError:
    assert callable(call)
    with pytest.raises(SmsgateError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    return caught.value


# --------------------------------------------------------------- creating


def test_number_is_prefix_running_number_and_creation_date(
    db: Database, settings: Settings
) -> None:
    account_id = make_account(db)
    first = issue(db, settings, account_id, now=SEED_DAY)
    second = issue(db, settings, account_id, now=SEED_DAY)
    assert first.number == f"C{10000 + first.id}/20210323"
    assert second.number == f"C{10000 + second.id}/20210323"
    assert second.id > first.id
    # the date is the UTC one: 01:30 in Minsk on the 24th is still the 23rd in UTC
    minsk = issue(
        db, settings, account_id, now=datetime(2021, 3, 24, 1, 30, tzinfo=ZoneInfo("Europe/Minsk"))
    )
    assert minsk.number.endswith("/20210323")
    with db.read() as session:
        assert invoices.find_by_number(session, first.number).id == first.id


def test_number_format_is_a_setting(db: Database, settings: Settings) -> None:
    custom = settings.model_copy(update={"invoice_number_format": "INV-{date:%Y}-{seq:07d}"})
    invoice = issue(db, custom, make_account(db), now=SEED_DAY)
    assert invoice.number == f"INV-2021-{10000 + invoice.id:07d}"

    broken = settings.model_copy(update={"invoice_number_format": "C{sequence}"})
    error = refused("invoice_number_format", lambda: issue(db, broken, make_account(db)))
    assert "SMSGATE_INVOICE_NUMBER_FORMAT" in error.message
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 1  # rolled back


def test_new_invoice_is_unpaid_with_tax_and_a_comment_in_the_account_language(
    db: Database, settings: Settings
) -> None:
    taxed = settings.model_copy(update={"invoice_tax_rate": Decimal("0.21")})
    english = make_account(db, currency="EUR")
    invoice = issue(db, taxed, english, "33.33", now=SEED_DAY)
    assert (invoice.status, invoice.kind, invoice.invoice_type) == (
        "unpaid",
        "sms",
        "replenishment",
    )
    assert (invoice.amount, invoice.tax, invoice.currency) == (
        Decimal("33.33"), Decimal("7.00"), "EUR")  # fmt: skip
    assert invoice.comment == "Top up your SMS balance with 33.33 EUR"
    assert invoice.created_at == SEED_DAY
    assert invoice.paid_at is None and invoice.ledger_entry_id is None

    russian = make_account(db, name="ООО Ромашка", currency="RUB", language="ru")
    assert issue(db, settings, russian).comment == "Пополнение SMS-баланса на 500.00 RUB"
    viber = issue(
        db, settings, russian, kind=BalanceKind.VIBER, invoice_type=InvoiceType.SUBSCRIPTION
    )
    assert (viber.kind, viber.invoice_type) == ("viber", "subscription")
    assert viber.comment == "Оплата подписки Viber на 500.00 RUB"
    assert viber.language == "ru"


@pytest.mark.parametrize("amount", ["0", "-5", "1000000000", "0.001", "NaN"])
def test_bad_amounts_are_refused(db: Database, settings: Settings, amount: str) -> None:
    account_id = make_account(db)
    error = refused("invalid_amount", lambda: issue(db, settings, account_id, amount))
    assert isinstance(error, InvalidRequest)
    assert error.field == "amount"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_largest_amount_is_accepted(db: Database, settings: Settings) -> None:
    assert issue(db, settings, make_account(db), "999999999.99").amount == Decimal("999999999.99")


def test_unknown_account(db: Database, settings: Settings) -> None:
    refused("account_not_found", lambda: issue(db, settings, 424242))


# --------------------------------------------------------------- paying


def test_paying_credits_the_balance_once_through_one_ledger_entry(
    db: Database, settings: Settings
) -> None:
    account_id = make_account(db, balance=Decimal("10"))
    invoice = issue(db, settings, account_id, "500")
    paid = pay(db, invoice, actor="cli:anna")

    assert paid.status == InvoiceStatus.PAID
    assert paid.paid_by == "cli:anna"
    assert paid.paid_at is not None
    [entry] = topups(db, account_id)
    assert paid.ledger_entry_id == entry.id
    assert (entry.amount, entry.kind, entry.entry_type, entry.reference) == (
        Decimal(500), "sms", "topup", f"invoice:{invoice.number}")  # fmt: skip
    with db.read() as session:
        assert ledger.balance(session, account_id) == Decimal("510")
        assert ledger.entries_total(session, account_id) == Decimal("510")
        assert ledger.balance(session, account_id, BalanceKind.VIBER) == 0
        [audit] = audit_entries(session, action="invoice.pay")
    assert (audit.actor, audit.target, audit.address) == (
        "cli:anna", f"invoice:{invoice.number}", "203.0.113.9")  # fmt: skip
    assert '"amount": "500.00"' in audit.details

    # a second payment, even from a stale copy that still says unpaid, changes nothing
    assert invoice.status == InvoiceStatus.UNPAID
    error = refused("invoice_already_paid", lambda: pay(db, invoice))
    assert invoice.number in error.message
    assert len(topups(db, account_id)) == 1
    with db.read() as session:
        assert ledger.balance(session, account_id) == Decimal("510")
        assert len(audit_entries(session, action="invoice.pay")) == 1


def test_viber_invoice_credits_the_viber_balance(db: Database, settings: Settings) -> None:
    account_id = make_account(db)
    invoice = issue(db, settings, account_id, "75.50", kind=BalanceKind.VIBER)
    pay(db, invoice)
    with db.read() as session:
        assert ledger.balance(session, account_id, BalanceKind.VIBER) == Decimal("75.50")
        assert ledger.entries_total(session, account_id, BalanceKind.VIBER) == Decimal("75.50")
        assert ledger.balance(session, account_id, BalanceKind.SMS) == 0


def test_tax_is_not_credited(db: Database, settings: Settings) -> None:
    taxed = settings.model_copy(update={"invoice_tax_rate": Decimal("0.2")})
    account_id = make_account(db)
    pay(db, issue(db, taxed, account_id, "100"))
    with db.read() as session:
        assert ledger.balance(session, account_id) == Decimal(100)


def test_cancelled_cannot_be_paid_and_paid_cannot_be_cancelled(
    db: Database, settings: Settings
) -> None:
    account_id = make_account(db)
    dropped = cancel(db, issue(db, settings, account_id))
    assert dropped.status == InvoiceStatus.CANCELLED
    assert dropped.cancelled_at is not None
    refused("invoice_cancelled", lambda: pay(db, dropped))
    refused("invoice_cancelled", lambda: cancel(db, dropped))

    paid = pay(db, issue(db, settings, account_id))
    refused("invoice_already_paid", lambda: cancel(db, paid))

    with db.read() as session:
        assert invoices.get_invoice(session, None, paid.id).status == InvoiceStatus.PAID
        assert ledger.balance(session, account_id) == Decimal(500)
        [audit] = audit_entries(session, action="invoice.cancel")
        assert audit.target == f"invoice:{dropped.number}"
    assert len(topups(db, account_id)) == 1


def test_a_second_payment_waits_for_the_first_and_is_refused(
    db: Database, settings: Settings
) -> None:
    """The first payer holds its transaction open; the second must see its result."""
    account_id = make_account(db)
    invoice = issue(db, settings, account_id)
    first_paid = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with db.write() as session:
            invoices.pay_invoice(session, invoice, actor="cli:first")
            first_paid.set()
            threading.Event().wait(0.3)  # commit late: the second payer is already waiting

    def second() -> None:
        first_paid.wait(10)
        try:
            pay(db, invoice, actor="cli:second")
            outcome["second"] = "paid"
        except SmsgateError as exc:
            outcome["second"] = exc.code

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == {"second": "invoice_already_paid"}
    assert len(topups(db, account_id)) == 1
    with db.read() as session:
        assert ledger.balance(session, account_id) == Decimal(500)
        assert invoices.get_invoice(session, account_id, invoice.id).paid_by == "cli:first"


def race_payments(db: Database, invoice: Invoice, payers: int) -> list[str]:
    """Start ``payers`` threads paying one invoice at the same moment; what each got."""
    start = threading.Barrier(payers)
    results: list[str] = []

    def payer() -> None:
        start.wait(10)
        try:
            pay(db, invoice)
            results.append("paid")
        except SmsgateError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=payer) for _ in range(payers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_payments_credit_once(db: Database, settings: Settings) -> None:
    account_id = make_account(db)
    for _ in range(3):
        results = race_payments(db, issue(db, settings, account_id, "10"), payers=2)
        assert sorted(results) == ["invoice_already_paid", "paid"]
    assert len(topups(db, account_id)) == 3
    with db.read() as session:
        assert ledger.balance(session, account_id) == Decimal(30)
        assert ledger.entries_total(session, account_id) == Decimal(30)


# --------------------------------------------------------------- reading


def test_reads_are_scoped_by_account(db: Database, settings: Settings) -> None:
    mine, theirs = make_account(db, name="Mine"), make_account(db, name="Theirs")
    other = issue(db, settings, theirs)
    with db.read() as session:
        with pytest.raises(NotFound) as caught:
            invoices.get_invoice(session, mine, other.id)
        assert caught.value.code == "invoice_not_found"
        assert invoices.get_invoice(session, theirs, other.id).id == other.id
        assert invoices.get_invoice(session, None, other.id).id == other.id  # the operator
        assert invoices.list_invoices(session, mine, limit=10) == ([], 0)
        with pytest.raises(NotFound):
            invoices.get_invoice(session, None, 424242)
        with pytest.raises(NotFound):
            invoices.find_by_number(session, "C0/00000000")


def test_list_is_newest_first_with_total_offset_and_status(
    db: Database, settings: Settings
) -> None:
    account_id = make_account(db)
    made = [issue(db, settings, account_id, str(n)) for n in range(1, 6)]
    pay(db, made[1])
    cancel(db, made[3])
    with db.read() as session:
        page, total = invoices.list_invoices(session, account_id, limit=2)
        assert [i.id for i in page] == [made[4].id, made[3].id]
        assert total == 5
        page, total = invoices.list_invoices(session, account_id, limit=2, offset=4)
        assert ([i.id for i in page], total) == ([made[0].id], 5)
        page, total = invoices.list_invoices(session, account_id, limit=10, status="unpaid")
        assert ([i.id for i in page], total) == ([made[4].id, made[2].id, made[0].id], 3)
        page, total = invoices.list_invoices(session, None, limit=10, status="paid")
        assert ([i.id for i in page], total) == ([made[1].id], 1)
        with pytest.raises(InvalidRequest) as caught:
            invoices.list_invoices(session, account_id, limit=10, status="lost")
        assert caught.value.code == "invalid_status"
