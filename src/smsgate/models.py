"""Imports every table so that ``Base.metadata`` is complete (Alembic and tests use this)."""

from smsgate.accounts.models import Account, ApiToken
from smsgate.audit.models import AuditEntry
from smsgate.billing.models import Balance, Invoice, LedgerEntry
from smsgate.connectors.models import ConnectorConfig
from smsgate.dashboard.models import DashboardSession, DashboardUser, Invitation, RecipientUpload
from smsgate.db import Base
from smsgate.dispatch.models import ConnectorLease, EarlyReceipt
from smsgate.inbound.models import InboundMessageRow, OptOut
from smsgate.limits.models import LimitWindow
from smsgate.messaging.models import IdempotencyKey, Message, MessagePart, Sending
from smsgate.pricing.models import ConnectorCostPlan, PricePlan, Rate
from smsgate.routing.models import Route
from smsgate.senders.models import Sender
from smsgate.templates.models import MessageTemplate, PasswordObject
from smsgate.webhooks.models import WebhookAttempt, WebhookDelivery

__all__ = [
    "Account",
    "ApiToken",
    "AuditEntry",
    "Balance",
    "Base",
    "ConnectorConfig",
    "ConnectorCostPlan",
    "ConnectorLease",
    "DashboardSession",
    "DashboardUser",
    "EarlyReceipt",
    "IdempotencyKey",
    "InboundMessageRow",
    "Invitation",
    "Invoice",
    "LedgerEntry",
    "LimitWindow",
    "Message",
    "MessagePart",
    "MessageTemplate",
    "OptOut",
    "PasswordObject",
    "PricePlan",
    "Rate",
    "RecipientUpload",
    "Route",
    "Sender",
    "Sending",
    "WebhookAttempt",
    "WebhookDelivery",
]
