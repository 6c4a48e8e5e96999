"""sms.by API v1 (https://sms.by/en/api-docs/sms-messages/) as an upstream; status by polling.

Send: ``POST {base_url}/api/v1/sendQuickSMS?token={token}`` (the API key, the connector's
secret, in the query as sms.by's clients send it) with the form fields ``message``,
``phone`` (international digits, no ``+``) and ``alphaname_id``. sms.by takes the id of a
sender name approved there, not the name: the ``alphanames`` option maps the message's
sender to an id (``{"ACME": 1363}``), the ``alphaname_id`` option is the id for any other
sender (absent: sms.by's system name, 0). The answer ``{"sms_id": 2204968, "status": "NEW",
"parts": 1}`` gives the upstream id.

Errors are ``{"error": "<text>"}``, with HTTP 200 or 4xx; sms.by has no error codes, so
the text decides: ``Wrong alphaname...`` → ``smsby_wrong_alphaname``, ``Message is too
long...`` → ``smsby_too_long``, any other → ``smsby_invalid`` (PERMANENT); a refused token
(401/403, ``Unauthenticated``) or a balance text means the connector cannot send
(TRANSIENT, unhealthy); 429 and 5xx are TRANSIENT.

Status: sms.by calls nobody back for a single SMS; the connector polls ``GET
{base_url}/api/v1/checkSMS?token=&sms_id=`` every ``poll_interval`` seconds (30). The answer
``{"sms_id", "sent", "delivered", "status"}``: ``DELIVERED`` → delivered, ``UNDELIVERED``,
``EXPIRED``, ``REJECTED``... → undeliverable or rejected; ``NEW`` and ``SENT`` are not final.
The older answer without ``status`` counts as delivered once ``delivered`` holds a time.
sms.by splits long texts itself: one ``sms_id``, one part for receipts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.connectors.http import register
from smsgate.connectors.http._seed import (
    SeedProvider,
    amount,
    has_money,
    is_id,
    json_object,
    text_of,
)

# sms.by's documented error texts (old docs) that say what is wrong with the message.
KNOWN_ERRORS = (("wrong alphaname", "wrong_alphaname"), ("too long", "too_long"))


@register
class SmsbyProvider(SeedProvider):
    kind: ClassVar[str] = "smsby"
    required: ClassVar[tuple[str, ...]] = ("base_url",)
    api_prefix: ClassVar[str] = "/api/v1"
    poll_interval: ClassVar[float | None] = 30.0

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.alphanames = _alphanames(self.options.get("alphanames"))
        self.alphaname_id = str(self.options.get("alphaname_id") or "")

    def form(self, msg: OutboundMessage) -> dict[str, str]:
        form = {"message": msg.text, "phone": msg.msisdn.lstrip("+")}
        alphaname = self.alphanames.get(msg.sender) or self.alphaname_id
        if alphaname:
            form["alphaname_id"] = alphaname
        return form

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url("/sendQuickSMS"),
            params={"token": self.secret},
            data=self.form(msg),
            headers={"Accept": "application/json"},
        )
        body = json_object(response)
        sms_id = body.get("sms_id")
        if response.is_success and "error" not in body and is_id(sms_id):
            return SubmitResult(msg.id, Outcome.SUBMITTED, (str(sms_id),))
        text = text_of(body.get("error"))
        invalid = next((code for words, code in KNOWN_ERRORS if words in text.lower()), "invalid")
        return self.refused(msg, response.status_code, text, invalid)

    async def status_of(self, upstream_id: str) -> Receipt | None:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(
            self.url("/checkSMS"),
            params={"token": self.secret, "sms_id": upstream_id},
            headers={"Accept": "application/json"},
        )
        body = json_object(response)
        if not response.is_success or "error" in body:  # "not found" is no verdict either
            self.poll_refused(response, text_of(body.get("error")))
            return None
        word = str(body.get("status") or "").strip().upper()
        if not word:  # the older answer: times only
            delivered = amount(body.get("delivered"))
            word = "DELIVERED" if delivered is not None and delivered > 0 else ""
        return self.receipt(upstream_id, word)  # smsby_undelivered, smsby_expired...

    async def probe(self) -> bool:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(
            self.url("/getBalance"),
            params={"token": self.secret},
            headers={"Accept": "application/json"},
        )
        body = json_object(response)
        rows = body.get("result")
        first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
        return response.is_success and "error" not in body and has_money(first.get("balance"))


def _alphanames(value: object) -> dict[str, str]:
    """Sender name → alphaname id: a mapping (JSON options), or ``"ACME:1363,INFO:1364"``
    (``smsgate connectors add --option alphanames=...``)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    pairs = (item.rpartition(":") for item in str(value or "").split(","))
    return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip() and v.strip()}
