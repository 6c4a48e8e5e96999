"""JSON shapes of invoices on the native API (``/v1/invoices``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from smsgate.billing.models import BalanceKind, InvoiceType


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str | int = Field(
        description="Amount credited when the invoice is paid, a decimal string with at most "
        "2 decimals, more than 0 and less than 1,000,000,000",
        examples=["500", "120.50"],
    )
    kind: BalanceKind = Field(BalanceKind.SMS, description="The balance the payment credits")
    type: InvoiceType = Field(InvoiceType.REPLENISHMENT, description="What the payment is for")


class InvoiceOut(BaseModel):
    id: int
    number: str = Field(examples=["C13294/20210323"])
    kind: str
    type: str
    status: str = Field(description="unpaid, paid or cancelled")
    amount: str = Field(description="Credited to the balance when paid")
    tax: str
    total: str = Field(description="amount + tax: what the customer pays")
    currency: str
    comment: str
    created_at: datetime
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None


class InvoicePage(BaseModel):
    invoices: list[InvoiceOut]
    total: int = Field(description="How many invoices match, over all pages")
