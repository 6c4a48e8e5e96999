"""Messente Omnichannel API as an upstream (SMS channel only).

Send: ``POST {base_url}/omnimessage`` (``base_url`` is ``https://api.messente.com/v1``) with
HTTP basic auth (API username, API password = the connector's secret) and JSON
``{"to": "+E164", "messages": [{"channel": "sms", "sender", "text"}], "dlr_url"}``. The
answer lists the message of each channel with its ``message_id``, the upstream id; errors
answer ``{"errors": [{"title", "detail", "code", "source"}]}`` (codes 101-107).

Receipts: Messente POSTs JSON to ``dlr_url`` on every status change: ``{"message_id",
"omnimessage_id", "channel", "status", "err", "error", "timestamp", ...}``. Messente splits
long texts itself and reports one message: smsgate records it as one part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import structlog

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.connectors.http import register
from smsgate.connectors.http.base import HttpProvider, http_status_outcome, json_object
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

log = structlog.get_logger(__name__)

# Delivery report statuses; ACK, ACCEPTD and UNKNOWN are not final.
FINAL_STATUSES: dict[str, MessageStatus] = {
    "DELIVRD": MessageStatus.DELIVERED,
    "SEEN": MessageStatus.DELIVERED,  # seen by the recipient (Viber and the like)
    "UNDELIV": MessageStatus.UNDELIVERABLE,
    "FAILED": MessageStatus.UNDELIVERABLE,
    "EXPIRED": MessageStatus.UNDELIVERABLE,
    "DELETED": MessageStatus.UNDELIVERABLE,
    "REJECTD": MessageStatus.REJECTED,
    "NACK": MessageStatus.REJECTED,  # not accepted for delivery
}


@register
class MessenteProvider(HttpProvider):
    kind: ClassVar[str] = "messente"
    required: ClassVar[tuple[str, ...]] = ("base_url", "username")

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.username = str(self.options["username"])
        self.sender = str(self.options.get("sender") or "")
        self.callback_url = str(self.options.get("callback_url") or "")
        self.url = f"{self.base_url}/omnimessage"

    def payload(self, msg: OutboundMessage) -> dict[str, Any]:
        sms: dict[str, Any] = {"channel": "sms", "text": msg.text}
        sender = self.sender or msg.sender
        if sender:
            sms["sender"] = sender
        body: dict[str, Any] = {"to": f"+{msg.msisdn.lstrip('+')}", "messages": [sms]}
        if self.callback_url:
            body["dlr_url"] = self.callback_url
        return body

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url,
            json=self.payload(msg),
            auth=httpx.BasicAuth(self.username, self.secret),
            headers={"Accept": "application/json"},
        )
        body = json_object(response)
        if not response.is_success:
            errors = body.get("errors")
            first = errors[0] if isinstance(errors, list) and errors else {}
            first = first if isinstance(first, dict) else {}
            code = first.get("code") or f"http_{response.status_code}"
            self.last_error = f"{response.status_code} {code}: {first.get('detail', '')}"
            outcome = http_status_outcome(response.status_code)
            return SubmitResult(msg.id, outcome, error_code=f"messente_{code}")
        messages = body.get("messages")
        sms = next(
            (
                m
                for m in (messages if isinstance(messages, list) else [])
                if isinstance(m, dict) and m.get("channel", "sms") == "sms"
            ),
            {},
        )
        message_id = sms.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            self.last_error = f"{response.status_code}: no message_id in the answer"
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code="messente_bad_response")
        return SubmitResult(msg.id, Outcome.SUBMITTED, (message_id,))

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        try:
            report = json.loads(body)
        except ValueError:
            log.warning("messente delivery report is not JSON", connector=name)
            return []
        if not isinstance(report, dict) or not report.get("message_id"):
            return []
        status = str(report.get("status") or "").upper()
        final = FINAL_STATUSES.get(status)
        if final is None:
            return []
        error_code = None
        if final is not MessageStatus.DELIVERED:
            err = report.get("err")  # 1 failed, 2 expired, 3 invalid number... 0 none
            reason = err if err not in (None, 0, "0", "") else status
            error_code = f"messente_{reason}"
        return [Receipt(name, str(report["message_id"]), final, error_code, utcnow())]
