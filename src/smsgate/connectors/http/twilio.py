"""Twilio Programmable Messaging (REST API 2010-04-01) as an upstream.

Send: ``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded
``To`` (E.164 with '+'), ``From`` (or ``MessagingServiceSid``), ``Body`` and
``StatusCallback``; HTTP basic auth with the Account SID as user and the Auth Token (the
connector's secret) as password. 201 answers a Message resource whose ``sid`` is the
upstream id; errors answer ``{"code", "message", "more_info", "status"}``.

Receipts: Twilio POSTs form-encoded status callbacks (``MessageSid``, ``MessageStatus``,
``ErrorCode``) to ``StatusCallback``, i.e. smsgate's ``/v1/callbacks/{connector}/{token}``.
Twilio splits long bodies itself and bills the segments, but reports one Message: smsgate
records it as one part.

Inbound: the incoming-message webhook of a Twilio number (configured in Twilio's console
with the connector's callback URL) POSTs ``MessageSid``, ``From``, ``To``, ``Body`` and
``SmsStatus=received``; it is answered with empty TwiML (no reply).

Signatures: Twilio signs every webhook with ``X-Twilio-Signature``, the base64 HMAC-SHA1,
keyed with the Auth Token, of the URL it called followed by every POST parameter, sorted by
name, as name + value. As Twilio's own validators do, the URL is also tried without its
port and with the scheme's default port, since a proxy may add or drop one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import httpx
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

# Final statuses of an outbound Message; queued, accepted, scheduled, sending and sent are not.
FINAL_STATUSES: dict[str, MessageStatus] = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,  # channels with read receipts: delivered, then read
    "undelivered": MessageStatus.UNDELIVERABLE,  # the carrier could not deliver it
    "partially_delivered": MessageStatus.UNDELIVERABLE,
    "failed": MessageStatus.REJECTED,  # never left Twilio (queue overflow, account, number...)
    "canceled": MessageStatus.REJECTED,
}


@register
class TwilioProvider(HttpProvider):
    kind: ClassVar[str] = "twilio"
    required: ClassVar[tuple[str, ...]] = ("base_url", "account_sid")
    signs_callbacks: ClassVar[bool] = True
    callback_reply: ClassVar[tuple[str, str]] = (
        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        "application/xml",
    )

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.account_sid = str(self.options["account_sid"])
        self.sender = str(self.options.get("sender") or "")
        self.messaging_service_sid = str(self.options.get("messaging_service_sid") or "")
        self.callback_url = str(self.options.get("callback_url") or "")
        self.url = f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}"
        self.url += "/Messages.json"

    def form(self, msg: OutboundMessage) -> dict[str, str]:
        form = {"To": f"+{msg.msisdn.lstrip('+')}", "Body": msg.text}
        if self.messaging_service_sid:
            # Twilio picks the number from the service's pool; From must stay empty
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.sender or msg.sender
        if self.callback_url:
            form["StatusCallback"] = self.callback_url
        return form

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url,
            data=self.form(msg),
            auth=httpx.BasicAuth(self.account_sid, self.secret),
            headers={"Accept": "application/json"},
        )
        body = json_object(response)
        if response.status_code in (200, 201) and isinstance(body.get("sid"), str):
            return SubmitResult(msg.id, Outcome.SUBMITTED, (body["sid"],))
        code = body.get("code") or f"http_{response.status_code}"
        self.last_error = f"{response.status_code} {code}: {body.get('message', '')}".strip()
        if response.is_success:  # 2xx without a Message sid: Twilio answered something odd
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code="twilio_bad_response")
        outcome = http_status_outcome(response.status_code)
        return SubmitResult(msg.id, outcome, error_code=f"twilio_{code}")

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        fields = _form(body)
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
        if not sid:
            log.warning("twilio callback without MessageSid", connector=name)
            return []
        final = FINAL_STATUSES.get(status)
        if final is None:
            return []
        error = None
        if final is not MessageStatus.DELIVERED:
            error = f"twilio_{fields.get('ErrorCode') or status}"
        return [Receipt(name, sid, final, error, utcnow())]

    @classmethod
    def parse_inbound(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[InboundMessage]:
        fields = _form(body)
        # a status callback names its status; an incoming message says "received", or nothing
        status = (fields.get("SmsStatus") or fields.get("MessageStatus") or "received").lower()
        if status != "received" or "Body" not in fields or not fields.get("From"):
            return []
        sid = fields.get("MessageSid") or fields.get("SmsSid") or None
        return [
            InboundMessage(
                name, fields["From"], fields.get("To", ""), fields["Body"], utcnow(), sid
            )
        ]

    @classmethod
    def authentic(cls, url: str, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        given = headers.get("x-twilio-signature") or headers.get("X-Twilio-Signature") or ""
        if not given or not secret:
            return False
        params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return any(
            hmac.compare_digest(given.encode(), signature(candidate, params, secret).encode())
            for candidate in _with_and_without_port(url)
        )


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """``X-Twilio-Signature`` of a form POST to ``url``."""
    data = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    user = parts.netloc.rpartition("@")[0]
    prefix = f"{user}@" if user else ""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:  # a port that is not a number: only the URL as it is
        return [url]
    without = parts._replace(netloc=prefix + host).geturl()
    with_port = parts._replace(netloc=f"{prefix}{host}:{port}").geturl() if port else without
    return list(dict.fromkeys([url, without, with_port]))


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items() if v}
