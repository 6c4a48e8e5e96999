"""devsms.uz (https://devsms.uz/api/docs.php, seed 002) as an upstream; status by callback,
with polling as a fallback.

Send: ``POST {base_url}/api/send_sms.php`` with ``Authorization: Bearer {token}`` (the
connector's secret) and the JSON ``{"phone": "<digits>", "message", "from",
"callback_url"}``; ``from`` is the ``sender`` option or the message's sender,
``callback_url`` the ``callback_url`` option: the public URL of smsgate's
``/v1/callbacks/{connector}``. The answer ``{"success": true, "data": {"sms_id": 123,
"request_id": "uuid", "status": "waiting" | "sent", ...}}`` gives the upstream id,
``sms_id``. Errors are ``{"success": false, "error": "<text>"}`` with 400, 401, 403, 404
or 500; devsms.uz has no error codes, so the text decides: a balance (``balans``,
``balance``) or token text means the connector cannot send (TRANSIENT, unhealthy), any other
400 rejects the message (``devsms_invalid``).

Callbacks: devsms.uz does not document the payload. The connector reads a JSON object or a
form (urlencoded or multipart) with the id in ``sms_id`` (else ``message_id``, else ``id``)
and the status in ``surface_status`` (else ``status``), in devsms.uz's words
(``DELIVERED``, ``UNDELIVERABLE``, ``REJECTED``), Eskiz's (devsms.uz resells Eskiz:
``DELIVRD``, ``UNDELIV``, ``REJECTD``...) or smsgate's own webhook (which carries
``message_id`` = ``sms_id`` and ``surface_status``). A callback naming only the Eskiz
``request_id`` cannot be matched and is left to polling.

Polling: ``GET {base_url}/api/get_status.php?sms_id=`` every ``poll_interval`` seconds
(60; 0 turns it off) for the messages still without a receipt; the status is read from
``data.status`` (or a top-level ``status``). Long texts are split by devsms.uz: one
``sms_id``, one part for receipts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import structlog

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.connectors.http import register
from smsgate.connectors.http._seed import (
    SeedProvider,
    fields_of,
    has_money,
    is_id,
    json_object,
    receipt_for,
    text_of,
)

log = structlog.get_logger(__name__)


@register
class DevsmsProvider(SeedProvider):
    kind: ClassVar[str] = "devsms"
    required: ClassVar[tuple[str, ...]] = ("base_url",)
    api_prefix: ClassVar[str] = "/api"
    poll_interval: ClassVar[float | None] = 60.0

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.callback_url = str(self.options.get("callback_url") or "")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}

    def payload(self, msg: OutboundMessage) -> dict[str, str]:
        body = {"phone": msg.msisdn.lstrip("+"), "message": msg.text}
        sender = self.sender_of(msg)
        if sender:
            body["from"] = sender
        if self.callback_url:
            body["callback_url"] = self.callback_url
        return body

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url("/send_sms.php"), json=self.payload(msg), headers=self.headers
        )
        body = json_object(response)
        data = body.get("data")
        sms_id = data.get("sms_id") if isinstance(data, dict) else None
        if response.is_success and body.get("success") is not False and is_id(sms_id):
            return SubmitResult(msg.id, Outcome.SUBMITTED, (str(sms_id),))
        return self.refused(msg, response.status_code, text_of(body.get("error")))

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        fields = fields_of(body, headers, query)
        sms_id = fields.get("sms_id") or fields.get("message_id") or fields.get("id") or ""
        word = fields.get("surface_status") or fields.get("status") or ""
        if not sms_id:
            log.warning("devsms callback without sms_id", connector=name, fields=sorted(fields))
            return []
        error = fields.get("error_code") or None
        receipt = receipt_for(name, cls.kind, sms_id, word, f"devsms_{error}" if error else None)
        return [receipt] if receipt is not None else []

    async def status_of(self, upstream_id: str) -> Receipt | None:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(
            self.url("/get_status.php"), params={"sms_id": upstream_id}, headers=self.headers
        )
        body = json_object(response)
        if not response.is_success or body.get("success") is False:
            self.poll_refused(response, text_of(body.get("error")))
            return None
        data = body.get("data")
        row = data if isinstance(data, dict) else body
        error = row.get("error_code") or None
        return self.receipt(
            upstream_id, str(row.get("status") or ""), f"devsms_{error}" if error else None
        )

    async def probe(self) -> bool:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(self.url("/get_balance.php"), headers=self.headers)
        body = json_object(response)
        data = body.get("data")
        balance = data.get("balance") if isinstance(data, dict) else None
        return response.is_success and body.get("success") is not False and has_money(balance)
