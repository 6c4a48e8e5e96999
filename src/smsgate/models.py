"""Imports every table so that ``Base.metadata`` is complete (Alembic and tests use this)."""

from smsgate.accounts.models import Account, ApiToken
from smsgate.audit.models import AuditEntry
from smsgate.billing.models import Balance, Invoice, LedgerEntry
from smsgate.db import Base
from smsgate.dispatch.models import EarlyReceipt
from smsgate.messaging.models import IdempotencyKey, Message, MessagePart, Sending
from smsgate.pricing.models import ConnectorCostPlan, PricePlan, Rate
from smsgate.senders.models import Sender

__all__ = [
    "Account",
    "ApiToken",
    "AuditEntry",
    "Balance",
    "Base",
    "ConnectorCostPlan",
    "EarlyReceipt",
    "IdempotencyKey",
    "Invoice",
    "LedgerEntry",
    "Message",
    "MessagePart",
    "PricePlan",
    "Rate",
    "Sender",
    "Sending",
]
