"""``smsgate invoices pay|cancel NUMBER`` through the real console script, on both engines."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

from smsgate.accounts.service import create_account
from smsgate.audit.service import list_entries as audit_entries
from smsgate.billing import invoices, ledger
from smsgate.billing.models import Invoice, InvoiceStatus
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.cli import smsgate as forked

Result = subprocess.CompletedProcess[str]


def smsgate(url: str, cwd: Path, *args: str) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    environ.update(SMSGATE_DATABASE_URL=url, NO_COLOR="1", COLUMNS="200")
    return forked(args, env=environ, cwd=cwd)


def one_line(result: Result) -> str:
    assert "Traceback" not in result.stderr
    lines = (result.stdout if result.returncode == 0 else result.stderr).strip().splitlines()
    assert len(lines) == 1, (result.stdout, result.stderr)
    return lines[0]


def issue(db: Database, settings: Settings, amount: str) -> Invoice:
    with db.write() as session:
        account = create_account(session, "Acme", balance=Decimal(1))
        return invoices.create_invoice(session, account.id, Decimal(amount), settings=settings)


def test_pay_then_pay_again(db: Database, db_url: str, settings: Settings, tmp_path: Path) -> None:
    invoice = issue(db, settings, "500")
    paid = smsgate(db_url, tmp_path, "invoices", "pay", invoice.number)
    assert paid.returncode == 0, paid.stderr
    line = one_line(paid)
    assert invoice.number in line and "500.00 EUR" in line and "501.00" in line

    again = smsgate(db_url, tmp_path, "invoices", "pay", invoice.number)
    assert again.returncode == 1
    assert one_line(again) == f"error: invoice {invoice.number} is already paid"
    assert again.stdout == ""

    with db.read() as session:
        assert ledger.balance(session, invoice.account_id) == Decimal(501)
        stored = invoices.find_by_number(session, invoice.number)
        assert stored.status == InvoiceStatus.PAID
        assert stored.paid_by is not None and stored.paid_by.startswith("cli:")
        [audit] = audit_entries(session, action="invoice.pay")
        assert audit.actor == stored.paid_by


def test_cancel_then_pay_and_unknown_number(
    db: Database, db_url: str, settings: Settings, tmp_path: Path
) -> None:
    invoice = issue(db, settings, "20")
    cancelled = smsgate(db_url, tmp_path, "invoices", "cancel", invoice.number)
    assert cancelled.returncode == 0, cancelled.stderr
    assert one_line(cancelled) == f"invoice {invoice.number} cancelled"

    refused = smsgate(db_url, tmp_path, "invoices", "pay", invoice.number)
    assert refused.returncode == 1
    assert "cancelled and cannot be paid" in one_line(refused)

    unknown = smsgate(db_url, tmp_path, "invoices", "cancel", "C0/19700101")
    assert unknown.returncode == 1
    assert one_line(unknown) == "error: no invoice numbered 'C0/19700101'"

    with db.read() as session:
        assert ledger.balance(session, invoice.account_id) == Decimal(1)
        assert invoices.find_by_number(session, invoice.number).status == "cancelled"
