"""The admin API's JSON shapes. Money is a decimal string on output; on input a decimal
string (preferred) or a JSON number."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from smsgate.accounts.models import AccountStatus
from smsgate.kit.money import InvalidAmount, parse_amount


def _amount(raw: object) -> Decimal:
    try:
        return parse_amount(raw, allow_negative=True)
    except InvalidAmount as exc:
        raise ValueError(str(exc)) from None


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Kind = Literal["sms", "viber"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    total: int = Field(description="How many items match, over all pages")
    limit: int
    offset: int


# ---- accounts ----------------------------------------------------------------------------


class AccountOut(BaseModel):
    id: int
    name: str
    status: str
    currency: str
    plan: str | None
    tax_rate: str
    credit_limit: str
    timezone: str
    refund_undeliverable: bool | None = Field(description="null: the price plan's policy applies")
    language: str
    billing_details: str
    email: str
    created_at: datetime
    balances: dict[str, str]


class AccountsPage(Page):
    accounts: list[AccountOut]


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    currency: str = "EUR"
    plan: str | None = None
    balance: Amount = Field(Decimal(0), description="Opening SMS balance (a top-up entry)")
    tax_rate: Amount = Decimal(0)
    credit_limit: Amount = Decimal(0)
    timezone: str = "UTC"
    refund_undeliverable: bool | None = None
    language: str = "en"
    billing_details: str = ""
    email: str = ""
    token_name: str = Field("first", max_length=100)


_NOT_NULL = (
    "status",
    "currency",
    "tax_rate",
    "credit_limit",
    "timezone",
    "language",
    "billing_details",
    "email",
    "name",
)


class AccountPatch(Strict):
    """Only the fields present change; ``plan`` and ``refund_undeliverable`` may be null."""

    status: AccountStatus | None = None
    plan: str | None = Field(None, description="A plan name; null leaves the account without")
    tax_rate: Amount | None = None
    currency: str | None = None
    credit_limit: Amount | None = None
    timezone: str | None = None
    refund_undeliverable: bool | None = Field(
        None, description="true or false; null: follow the price plan"
    )
    language: str | None = None
    billing_details: str | None = None
    email: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _nulls(self) -> AccountPatch:
        for field in _NOT_NULL:
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


# ---- tokens ------------------------------------------------------------------------------


class TokenIn(Strict):
    name: str = Field("", max_length=100)


class TokenOut(BaseModel):
    id: int
    account_id: int | None
    scope: str
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded every few seconds")
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret: shown this once, never stored")


class TokensPage(Page):
    tokens: list[TokenOut]


class AccountCreatedOut(BaseModel):
    account: AccountOut
    token: TokenCreatedOut


# ---- plans -------------------------------------------------------------------------------


class PlanIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    refund_undeliverable: bool = False


class PlanPatch(Strict):
    refund_undeliverable: bool


class PlanOut(BaseModel):
    name: str
    version: int
    refund_undeliverable: bool
    rates: int
    accounts: int
    created_at: datetime
    updated_at: datetime


class PlansPage(Page):
    plans: list[PlanOut]


class CostPlanIn(Strict):
    plan: str = Field(min_length=1, max_length=100)


class CostPlanOut(BaseModel):
    connector: str
    plan: str


class CostPlansOut(BaseModel):
    cost_plans: list[CostPlanOut]


# ---- senders and invoices ------------------------------------------------------------------


class SenderOut(BaseModel):
    id: int
    account_id: int
    name: str
    status: str
    reason: str
    created_at: datetime


class SendersPage(Page):
    senders: list[SenderOut]


class RejectIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Shown to the customer")


class InvoiceOut(BaseModel):
    id: int
    number: str
    account_id: int
    kind: str
    type: str
    amount: str
    tax: str
    currency: str
    status: str
    comment: str
    created_at: datetime
    paid_at: datetime | None
    paid_by: str | None
    cancelled_at: datetime | None


class InvoicesPage(Page):
    invoices: list[InvoiceOut]


# ---- money -------------------------------------------------------------------------------


class TopupIn(Strict):
    amount: Amount = Field(description="More than 0")
    reason: str = Field(min_length=1, max_length=500)
    kind: Kind = "sms"


class AdjustmentIn(Strict):
    amount: Amount = Field(description="Signed: negative takes money away")
    reason: str = Field(min_length=1, max_length=500)
    kind: Kind = "sms"
    force: bool = Field(False, description="Allow the balance to go below -credit_limit")


class LedgerEntryOut(BaseModel):
    id: int
    account_id: int
    kind: str
    type: str
    amount: str
    balance_after: str
    reference: str
    description: str
    created_at: datetime


class MoneyOut(BaseModel):
    entry: LedgerEntryOut
    balance: str
    currency: str


# ---- reports and audit -----------------------------------------------------------------------


class MarginRowOut(BaseModel):
    key: str = Field(description="The account id, destination or connector")
    messages: int
    parts: int
    revenue: str
    cost: str
    margin: str


class MarginReportOut(BaseModel):
    since: datetime
    until: datetime
    group: str
    rows: list[MarginRowOut]
    total: MarginRowOut


class AuditEntryOut(BaseModel):
    id: int
    actor: str
    action: str
    target: str
    details: dict[str, object]
    address: str
    created_at: datetime


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None
