"""``smsgate invoices pay|cancel NUMBER``: the operator records a payment or cancels.

Registered by ``smsgate.cli``; that module is imported inside the commands, not here,
because it imports this one.
"""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from smsgate.billing import invoices
from smsgate.billing.ledger import balance
from smsgate.billing.models import BalanceKind
from smsgate.kit.money import format_amount

invoices_app = typer.Typer(help="Invoices.", no_args_is_help=True)

Number = Annotated[str, typer.Argument(help="Invoice number, e.g. C13294/20210323")]


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"cli:uid{os.getuid()}"


@invoices_app.command("pay")
def pay(number: Number) -> None:
    """Record an invoice as paid: its amount is credited to the account's balance once."""
    from smsgate.cli import in_transaction

    def run(session: Session) -> str:
        invoice = invoices.pay_invoice(
            session, invoices.find_by_number(session, number), actor=_actor()
        )
        after = balance(session, invoice.account_id, BalanceKind(invoice.kind))
        return (
            f"invoice {invoice.number} paid: {format_amount(invoice.amount)} {invoice.currency}"
            f" credited to the {invoice.kind} balance of account {invoice.account_id}"
            f" (now {format_amount(after)})"
        )

    typer.echo(in_transaction(run))


@invoices_app.command("cancel")
def cancel(number: Number) -> None:
    """Cancel an unpaid invoice; it can no longer be paid."""
    from smsgate.cli import in_transaction

    def run(session: Session) -> str:
        invoice = invoices.cancel_invoice(
            session, invoices.find_by_number(session, number), actor=_actor()
        )
        return f"invoice {invoice.number} cancelled"

    typer.echo(in_transaction(run))
