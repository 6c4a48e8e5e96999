"""The native API's JSON shapes (pydantic for the docs, msgspec on the hot path)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from pydantic import BaseModel, Field


class SendBody(msgspec.Struct, forbid_unknown_fields=True):
    to: str | list[str]
    text: str
    sender: str
    scheduled_at: datetime | None = None
    callback_url: str | None = None


class SendMessagesIn(BaseModel):
    to: str | list[str] = Field(description="One number or a list, international format")
    text: str
    sender: str = Field(description="An approved sender name of the account")
    scheduled_at: datetime | None = Field(
        None, description="ISO 8601 with a zone; later = scheduled"
    )
    callback_url: str | None = None


class MessageOut(BaseModel):
    id: int
    request_id: str
    to: str
    destination: str
    sender: str
    status: str
    parts: int
    encoding: str
    cost: str = Field(description="Amount charged, tax included, as a decimal string")
    currency: str
    error_code: str | None = None
    sending_id: int | None = None
    created_at: datetime
    scheduled_at: datetime | None = None
    submitted_at: datetime | None = None
    done_at: datetime | None = None


class AcceptedMessageOut(BaseModel):
    id: int
    request_id: str
    to: str
    destination: str
    status: str
    parts: int
    cost: str


class SendMessagesOut(BaseModel):
    messages: list[AcceptedMessageOut]
    total_cost: str
    currency: str
    balance: str


class MessagePage(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None


class QuoteIn(BaseModel):
    to: list[str] = Field(min_length=1)
    text: str = Field(min_length=1)


class QuoteLineOut(BaseModel):
    destination: str
    mcc: str | None
    mnc: str | None
    numbers: list[str]
    rate: str
    parts: int
    subtotal: str
    tax: str
    total: str


class QuoteOut(BaseModel):
    encoding: str
    parts_per_message: int
    characters: int
    lines: list[QuoteLineOut]
    parts: int
    subtotal: str
    tax: str
    total: str
    currency: str


class BalanceOut(BaseModel):
    balance: str
    credit_limit: str
    currency: str
    balances: dict[str, str]


class LedgerEntryOut(BaseModel):
    id: int
    kind: str
    type: str
    amount: str
    balance_after: str
    reference: str
    description: str
    created_at: datetime


class LedgerPage(BaseModel):
    entries: list[LedgerEntryOut]
    next_cursor: str | None


class RateOut(BaseModel):
    mcc: str
    mnc: str | None
    country: str
    network: str
    price: str


class RatesOut(BaseModel):
    plan: str | None
    currency: str
    rates: list[RateOut]


class SenderIn(BaseModel):
    name: str = Field(min_length=1, max_length=15)


class SenderOut(BaseModel):
    id: int
    name: str
    status: str
    reason: str
    created_at: datetime


class SendingIn(BaseModel):
    recipients: list[str] = Field(min_length=1)
    text: str
    sender: str
    scheduled_at: datetime | None = None
    callback_url: str | None = None
    type: str = "default"


class SendingOut(BaseModel):
    id: int
    status: str
    text: str
    sender: str
    recipients: int
    parts: int
    cost: str
    scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    messages_by_status: dict[str, int] | None = None


class SendingsPage(BaseModel):
    sendings: list[SendingOut]
    next_cursor: str | None


class CancelOut(BaseModel):
    cancelled: int
    sending: SendingOut


class PeriodOut(BaseModel):
    messages: int
    parts: int
    spent: str


class StatisticsOut(BaseModel):
    total: PeriodOut
    today: PeriodOut
    month: PeriodOut
    by_status: dict[str, int]
    currency: str
    timezone: str
