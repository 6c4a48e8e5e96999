"""Infobip SMS API as an upstream.

Send: ``POST {base_url}/sms/2/text/advanced`` (``base_url`` is the account's own
``https://xxxxx.api.infobip.com``) with ``Authorization: App <API key>`` (the connector's
secret) and JSON ``{"messages": [{"from", "destinations": [{"to"}], "text", "notifyUrl",
"notifyContentType"}]}``; ``to`` is the international number without '+'. The answer lists
each destination with its ``messageId`` and a status object (``groupName`` PENDING when
accepted, REJECTED when refused on the spot). Request errors answer
``{"requestError": {"serviceException": {"messageId", "text"}}}``.

Receipts: Infobip POSTs delivery reports to ``notifyUrl`` as JSON ``{"results": [{"messageId",
"status": {"groupName", "name", ...}, "error": {"name", "id", ...}, ...}]}``, several reports
per request. Infobip splits long texts itself (``smsCount``) and reports one message: smsgate
records it as one part.

Inbound: a number's forwarding to a URL (configured at Infobip with the connector's callback
URL; the default ``MO_JSON_2`` format) POSTs ``{"results": [{"messageId", "from", "to",
"text", "receivedAt", ...}], "messageCount", "pendingMessageCount"}``: results with a
``text`` and no ``status`` are inbound messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog

from smsgate.connectors.base import (
    InboundMessage,
    OutboundMessage,
    Outcome,
    Receipt,
    SubmitResult,
)
from smsgate.connectors.http import register
from smsgate.connectors.http.base import HttpProvider, http_status_outcome, json_object
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

log = structlog.get_logger(__name__)

# Status groups of a delivery report; PENDING (and OK) are not final. DELIVERED covers both
# DELIVERED_TO_HANDSET and DELIVERED_TO_OPERATOR: without intermediateReport Infobip sends one
# report per message, and for networks without handset receipts the operator one is the last.
FINAL_GROUPS: dict[str, MessageStatus] = {
    "DELIVERED": MessageStatus.DELIVERED,
    "UNDELIVERABLE": MessageStatus.UNDELIVERABLE,
    "EXPIRED": MessageStatus.UNDELIVERABLE,
    "REJECTED": MessageStatus.REJECTED,
}


@register
class InfobipProvider(HttpProvider):
    kind: ClassVar[str] = "infobip"
    required: ClassVar[tuple[str, ...]] = ("base_url",)

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.sender = str(self.options.get("sender") or "")
        self.callback_url = str(self.options.get("callback_url") or "")
        self.url = f"{self.base_url}/sms/2/text/advanced"

    def payload(self, msg: OutboundMessage) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": self.sender or msg.sender,
            "destinations": [{"to": msg.msisdn.lstrip("+")}],
            "text": msg.text,
        }
        if self.callback_url:
            message["notifyUrl"] = self.callback_url
            message["notifyContentType"] = "application/json"
        return {"messages": [message]}

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url,
            json=self.payload(msg),
            headers={"Authorization": f"App {self.secret}", "Accept": "application/json"},
        )
        body = json_object(response)
        if not response.is_success:
            exception = (body.get("requestError") or {}).get("serviceException") or {}
            code = exception.get("messageId") or f"http_{response.status_code}"
            self.last_error = f"{response.status_code} {code}: {exception.get('text', '')}"
            outcome = http_status_outcome(response.status_code)
            return SubmitResult(msg.id, outcome, error_code=f"infobip_{code}")
        messages = body.get("messages")
        sent = messages[0] if isinstance(messages, list) and messages else None
        sent = sent if isinstance(sent, dict) else {}
        message_id = sent.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            self.last_error = f"{response.status_code}: no messageId in the answer"
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code="infobip_bad_response")
        status = sent.get("status") or {}
        if status.get("groupName") == "REJECTED":  # e.g. REJECTED_NOT_ENOUGH_CREDITS
            return SubmitResult(
                msg.id, Outcome.PERMANENT, error_code=f"infobip_{status.get('name', 'REJECTED')}"
            )
        return SubmitResult(msg.id, Outcome.SUBMITTED, (message_id,))

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        receipts: list[Receipt] = []
        now = utcnow()
        for result in _results(name, body):
            if not result.get("messageId") or "status" not in result:
                continue
            status = _object(result.get("status"))
            final = FINAL_GROUPS.get(str(status.get("groupName", "")).upper())
            if final is None:
                continue
            error_code = None
            if final is not MessageStatus.DELIVERED:
                error = _object(result.get("error"))
                # the error (e.g. EC_UNKNOWN_SUBSCRIBER) says why; the status name what happened
                reason = error.get("name") if error.get("id") not in (None, 0) else None
                error_code = f"infobip_{reason or status.get('name') or status.get('groupName')}"
            receipts.append(Receipt(name, str(result["messageId"]), final, error_code, now))
        return receipts

    @classmethod
    def parse_inbound(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[InboundMessage]:
        inbound = []
        for result in _results(name, body):
            text, source = result.get("text"), result.get("from")
            if "status" in result or not isinstance(text, str) or not source:
                continue
            inbound.append(
                InboundMessage(
                    name,
                    str(source),
                    str(result.get("to") or ""),
                    text,
                    _received_at(result.get("receivedAt")),
                    str(result["messageId"]) if result.get("messageId") else None,
                )
            )
        return inbound


def _results(name: str, body: bytes) -> list[dict[str, Any]]:
    """The ``results`` objects of a report or an inbound forward."""
    try:
        document = json.loads(body)
    except ValueError:
        log.warning("infobip callback is not JSON", connector=name)
        return []
    results = document.get("results") if isinstance(document, dict) else None
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _received_at(value: object) -> datetime:
    """Infobip writes ``2019-08-05T12:21:59.000+0000``; anything unreadable, or without an
    offset, is now."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return utcnow()
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    return utcnow()
