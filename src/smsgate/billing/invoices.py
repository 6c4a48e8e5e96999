"""Top-up invoices (sms.by's "bills"): create, find, list, pay, cancel.

An invoice is ``unpaid`` until the operator records its payment, which credits the invoice's
balance kind through exactly one ledger entry (reference ``invoice:<number>``); or until it
is cancelled. Both ends are final:

    unpaid ──pay──▶ paid
       └──cancel──▶ cancelled

Pay and cancel lock the invoice row first (``FOR UPDATE`` on PostgreSQL; on SQLite the write
transaction's ``BEGIN IMMEDIATE`` already holds the database lock) and read its status under
that lock, so two concurrent payments of one invoice credit the balance once. Services flush;
the caller commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.audit import service as audit
from smsgate.billing import ledger
from smsgate.billing.models import BalanceKind, EntryType, Invoice, InvoiceStatus, InvoiceType
from smsgate.config import Settings
from smsgate.errors import InvalidRequest, NotFound, Unavailable
from smsgate.kit.money import format_amount, round_money
from smsgate.kit.time import utcnow

MAX_AMOUNT = Decimal(10) ** 9
_CENT = Decimal("0.01")


def _moment(now: datetime | None) -> datetime:
    when = now or utcnow()
    if when.tzinfo is None:
        raise ValueError("invoice times must carry a time zone")
    return when.astimezone(UTC)


def _check_amount(amount: Decimal) -> Decimal:
    shown = format_amount(amount) if amount.is_finite() else str(amount)
    if not amount.is_finite() or not Decimal(0) < amount < MAX_AMOUNT:
        raise InvalidRequest(
            f"the invoice amount must be more than 0 and less than {MAX_AMOUNT:,}, not {shown}",
            field="amount",
            code="invalid_amount",
        )
    if amount != amount.quantize(_CENT):
        raise InvalidRequest(
            f"the invoice amount {shown} has more than 2 decimal places",
            field="amount",
            code="invalid_amount",
        )
    return amount.quantize(_CENT)


def invoice_comment(
    kind: BalanceKind, invoice_type: InvoiceType, amount: Decimal, currency: str, language: str
) -> str:
    """The invoice's one line of description, in the account's language (English otherwise)."""
    money = f"{format_amount(amount)} {currency}"
    label = "SMS" if kind is BalanceKind.SMS else "Viber"
    if language_of(language) == "ru":
        if invoice_type is InvoiceType.SUBSCRIPTION:
            return f"Оплата подписки {label} на {money}"
        return f"Пополнение {label}-баланса на {money}"
    if invoice_type is InvoiceType.SUBSCRIPTION:
        return f"{label} subscription payment of {money}"
    return f"Top up your {label} balance with {money}"


def language_of(language: str) -> str:
    """The invoice language actually used: ``ru`` or ``en`` (``ru-RU`` counts as ``ru``)."""
    return "ru" if language.split("-")[0].strip().lower() == "ru" else "en"


def _number(settings: Settings, invoice: Invoice) -> str:
    template = settings.invoice_number_format
    try:
        number = template.format(seq=10000 + invoice.id, date=invoice.created_at)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise Unavailable(
            f"SMSGATE_INVOICE_NUMBER_FORMAT {template!r} cannot be formatted: {exc!r}; "
            "use the fields {seq} and {date}, e.g. C{seq}/{date:%Y%m%d}",
            code="invoice_number_format",
        ) from exc
    if not number or len(number) > 40:
        raise Unavailable(
            f"SMSGATE_INVOICE_NUMBER_FORMAT {template!r} gives {number!r}; "
            "an invoice number has 1 to 40 characters",
            code="invoice_number_format",
        )
    return number


def create_invoice(
    session: Session,
    account_id: int,
    amount: Decimal,
    *,
    kind: BalanceKind = BalanceKind.SMS,
    invoice_type: InvoiceType = InvoiceType.REPLENISHMENT,
    settings: Settings,
    now: datetime | None = None,
) -> Invoice:
    """Issue an unpaid invoice; ``amount`` is what paying it credits, tax comes on top."""
    amount = _check_amount(amount)
    kind, invoice_type = BalanceKind(kind), InvoiceType(invoice_type)
    account = get_account(session, account_id)
    invoice = Invoice(
        account_id=account.id,
        # The number needs the id: a unique placeholder until the flush has assigned it.
        number=uuid.uuid4().hex,
        kind=kind,
        invoice_type=invoice_type,
        amount=amount,
        tax=round_money(amount * settings.invoice_tax_rate, 2),
        currency=account.currency,
        language=account.language,
        comment=invoice_comment(kind, invoice_type, amount, account.currency, account.language),
        status=InvoiceStatus.UNPAID,
        created_at=_moment(now),
    )
    session.add(invoice)
    session.flush()
    invoice.number = _number(settings, invoice)
    session.flush()
    return invoice


def get_invoice(session: Session, account_id: int | None, invoice_id: int) -> Invoice:
    """One invoice; ``account_id`` None is the operator's view of every account."""
    query = select(Invoice).where(Invoice.id == invoice_id)
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    invoice = session.scalar(query)
    if invoice is None:
        raise NotFound(f"no invoice with id {invoice_id}", code="invoice_not_found")
    return invoice


def find_by_number(session: Session, number: str) -> Invoice:
    invoice = session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is None:
        raise NotFound(f"no invoice numbered {number!r}", code="invoice_not_found")
    return invoice


def list_invoices(
    session: Session,
    account_id: int | None,
    *,
    limit: int,
    offset: int = 0,
    status: str | None = None,
) -> tuple[list[Invoice], int]:
    """A page of invoices, newest first, and how many match in all."""
    query = select(Invoice)
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    if status is not None:
        if status not in set(InvoiceStatus):
            raise InvalidRequest(
                f"unknown invoice status {status!r}; use one of "
                + ", ".join(s.value for s in InvoiceStatus),
                field="status",
                code="invalid_status",
            )
        query = query.where(Invoice.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Invoice.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def _lock(session: Session, invoice: Invoice) -> Invoice:
    """The invoice re-read under a row lock, whatever session ``invoice`` was loaded in."""
    # populate_existing: an object already in this session takes the locked row's values,
    # so the status checked below is the committed one, not a stale copy.
    locked = session.scalars(
        select(Invoice)
        .where(Invoice.id == invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if locked is None:
        raise NotFound(f"no invoice with id {invoice.id}", code="invoice_not_found")
    return locked


def _refuse_final(invoice: Invoice, action: str) -> None:
    """Refuse ``action`` ("pay" or "cancel") on an invoice that is already paid or cancelled."""
    paying, name = action == "pay", f"invoice {invoice.number}"
    if invoice.status == InvoiceStatus.PAID:
        message = f"{name} is already paid" + ("" if paying else " and cannot be cancelled")
        raise InvalidRequest(message, code="invoice_already_paid")
    if invoice.status == InvoiceStatus.CANCELLED:
        message = (
            f"{name} is cancelled and cannot be paid" if paying else f"{name} is already cancelled"
        )
        raise InvalidRequest(message, code="invoice_cancelled")


def pay_invoice(
    session: Session,
    invoice: Invoice,
    *,
    actor: str,
    address: str = "",
    now: datetime | None = None,
) -> Invoice:
    """Record the payment: credit the balance (one ledger entry) and mark the invoice paid."""
    invoice = _lock(session, invoice)
    _refuse_final(invoice, "pay")
    entry = ledger.post(
        session,
        invoice.account_id,
        invoice.amount,
        EntryType.TOPUP,
        kind=BalanceKind(invoice.kind),
        reference=f"invoice:{invoice.number}",
        description=invoice.comment,
    )
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = _moment(now)
    invoice.paid_by = actor
    invoice.ledger_entry_id = entry.id
    session.flush()
    audit.record(
        session,
        actor,
        "invoice.pay",
        f"invoice:{invoice.number}",
        address=address,
        amount=format_amount(invoice.amount),
        currency=invoice.currency,
        kind=invoice.kind,
        account_id=invoice.account_id,
        ledger_entry_id=entry.id,
    )
    return invoice


def cancel_invoice(
    session: Session,
    invoice: Invoice,
    *,
    actor: str,
    address: str = "",
    now: datetime | None = None,
) -> Invoice:
    """Cancel an unpaid invoice; it can never be paid afterwards."""
    invoice = _lock(session, invoice)
    _refuse_final(invoice, "cancel")
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at = _moment(now)
    session.flush()
    audit.record(
        session,
        actor,
        "invoice.cancel",
        f"invoice:{invoice.number}",
        address=address,
        amount=format_amount(invoice.amount),
        currency=invoice.currency,
        account_id=invoice.account_id,
    )
    return invoice
