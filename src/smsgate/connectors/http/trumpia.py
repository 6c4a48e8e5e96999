"""Trumpia REST API (Direct SMS) as an upstream; status by polling.

Send: ``PUT {base_url}/rest/v1/{user_name}/sms`` (``base_url`` is ``https://api.trumpia.com``)
with the headers ``X-Apikey`` (the connector's secret) and ``Content-Type: application/json``
and the JSON ``{"mobile_number": "+E164", "country_code": "0", "message", "sender",
"org_name_id"}`` (country code 0: Trumpia reads the country from the E.164 number). The
answer ``{"request_id", "sms_id"}`` is only an acknowledgement: the request is processed
afterwards, and ``request_id`` (the upstream id) is what its outcome is asked by.

Status: ``GET {base_url}/rest/v1/{user_name}/report/{request_id}`` answers
``{"status_code": "MPCE4001"}`` while the request is processed, ``{"status": "sent", ...}``
once the message went out, or an error ``status_code`` (``MRME0551`` blocked number,
``MRME1054`` too long...). Trumpia documents no handset receipt for Direct SMS, so ``sent``
is the last word and counts as delivered. Trumpia has no push report for Direct SMS: the
connector polls every ``poll_interval`` seconds the ids the dispatcher still waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.connectors.http import register
from smsgate.connectors.http.base import HttpProvider, http_status_outcome, json_object
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

PROCESSING = "MPCE4001"


@register
class TrumpiaProvider(HttpProvider):
    kind: ClassVar[str] = "trumpia"
    required: ClassVar[tuple[str, ...]] = ("base_url", "user_name")
    poll_interval: ClassVar[float | None] = 10.0

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        if self.options.get("poll_interval"):
            # per connector; the base class's poll loop reads it from the instance
            setattr(self, "poll_interval", float(self.options["poll_interval"]))  # noqa: B010
        self.poll_batch = int(self.options.get("poll_batch") or 100)
        self.sender = str(self.options.get("sender") or "")
        self.org_name_id = str(self.options.get("org_name_id") or "")
        self.root = f"{self.base_url}/rest/v1/{quote(str(self.options['user_name']), safe='')}"
        self._cursor = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Apikey": self.secret, "Content-Type": "application/json"}

    def payload(self, msg: OutboundMessage) -> dict[str, str]:
        body = {
            "mobile_number": f"+{msg.msisdn.lstrip('+')}",
            "country_code": "0",
            "message": msg.text,
        }
        # Trumpia sends from a short code or registered number: digits only
        sender = self.sender or (msg.sender if msg.sender.isdigit() else "")
        if sender:
            body["sender"] = sender
        if self.org_name_id:
            body["org_name_id"] = self.org_name_id
        return body

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.put(
            f"{self.root}/sms", json=self.payload(msg), headers=self.headers
        )
        body = json_object(response)
        request_id = body.get("request_id")
        if response.is_success and isinstance(request_id, str | int) and str(request_id):
            return SubmitResult(msg.id, Outcome.SUBMITTED, (str(request_id),))
        code = body.get("status_code") or f"http_{response.status_code}"
        self.last_error = f"{response.status_code} {code}: {body.get('error_message', '')}"
        if response.is_success and not body.get("status_code"):
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code="trumpia_bad_response")
        outcome = http_status_outcome(response.status_code)
        return SubmitResult(msg.id, outcome, error_code=f"trumpia_{code}")

    async def poll(self, upstream_ids: Sequence[str]) -> list[Receipt]:
        """Ask for the report of up to ``poll_batch`` requests, taking turns through a long
        backlog so that none waits behind requests still being processed."""
        ids = list(upstream_ids)
        if len(ids) > self.poll_batch:
            start = self._cursor % len(ids)
            ids = (ids[start:] + ids[:start])[: self.poll_batch]
            self._cursor = start + self.poll_batch
        found = await asyncio.gather(*(self._report(i) for i in ids))
        return [r for r in found if r is not None]

    async def _report(self, request_id: str) -> Receipt | None:
        assert self.client is not None, "start() the provider first"
        async with self._gate:
            try:
                response = await self.client.get(
                    f"{self.root}/report/{quote(request_id, safe='')}", headers=self.headers
                )
            except httpx.HTTPError as exc:  # asked again next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                return None
        if not response.is_success:
            return None
        return self.receipt(self.name, request_id, json_object(response))

    @staticmethod
    def receipt(name: str, request_id: str, report: Mapping[str, Any]) -> Receipt | None:
        """The receipt a status report stands for, or None while it is not final."""
        status = str(report.get("status") or "").lower()
        code = str(report.get("status_code") or "")
        if status == "sent":
            return Receipt(name, request_id, MessageStatus.DELIVERED, None, utcnow())
        if code == PROCESSING:
            return None
        if code:  # the request failed: blocked number, message too long, bad sender...
            return Receipt(name, request_id, MessageStatus.REJECTED, f"trumpia_{code}", utcnow())
        if status:  # a status other than sent (failed, canceled...)
            error = f"trumpia_{status}"
            return Receipt(name, request_id, MessageStatus.UNDELIVERABLE, error, utcnow())
        return None
