"""SMSgic (https://smsgic.com/api, seed 001) as an upstream; status by polling.

Send: one ``POST {base_url}/sendings`` per message, ``Authorization: Bearer {token}`` (the
connector's secret), ``Accept: application/json`` (Laravel answers errors in JSON only to
requests that expect it) and the JSON ``{"message", "recipients": ["<digits>"], "sender"}``,
plus ``"type"`` (SMSgic's own route choice) when the ``type`` option is set. The answer
``{"message": "SMS champing created", "sending_id": 458}`` gives the upstream id.

Status: SMSgic documents no delivery report and no per-number status, only the sending's
status (``GET {base_url}/sendings/{id}`` → ``{"sending": {"id", "status", ...}}``). The
connector polls it every ``poll_interval`` seconds (30): ``Completed`` is taken as
delivered, ``Cancelled`` as rejected (``smsgic_cancelled``); ``Draft``, ``Pending`` and
``Processing`` are not final. A 404 is not taken as a verdict (a wrong ``base_url`` would
otherwise fail every message): such a message ends by smsgate's own receipt timeout.
SMSgic splits a long text itself; the message is one upstream sending, one part for
receipts.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, SubmitResult
from smsgate.connectors.http import register
from smsgate.connectors.http._seed import SeedProvider, has_money, is_id, json_object, text_of
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

# SMSgic's sending statuses that end a one-number sending; the rest are not final.
FINAL_STATUSES: dict[str, tuple[MessageStatus, str | None]] = {
    "completed": (MessageStatus.DELIVERED, None),
    "cancelled": (MessageStatus.REJECTED, "smsgic_cancelled"),
    "canceled": (MessageStatus.REJECTED, "smsgic_cancelled"),
}


@register
class SmsgicProvider(SeedProvider):
    kind: ClassVar[str] = "smsgic"
    required: ClassVar[tuple[str, ...]] = ("base_url",)
    poll_interval: ClassVar[float | None] = 30.0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}

    def payload(self, msg: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": msg.text,
            "recipients": [msg.msisdn.lstrip("+")],
            "sender": self.sender_of(msg),
        }
        if self.options.get("type"):
            body["type"] = str(self.options["type"])
        return body

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        assert self.client is not None, "start() the provider first"
        response = await self.client.post(
            self.url("/sendings"), json=self.payload(msg), headers=self.headers
        )
        body = json_object(response)
        sending_id = body.get("sending_id")
        if response.is_success and is_id(sending_id):
            return SubmitResult(msg.id, Outcome.SUBMITTED, (str(sending_id),))
        # Laravel: {"message": ...} or {"message": ..., "errors": {"field": [...]}}
        text = text_of(body.get("message")) if not response.is_success else ""
        if body.get("errors"):
            text = f"{text} {text_of(body['errors'])}".strip()
        return self.refused(msg, response.status_code, text)

    async def status_of(self, upstream_id: str) -> Receipt | None:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(
            self.url(f"/sendings/{quote(upstream_id, safe='')}"), headers=self.headers
        )
        body = json_object(response)
        if not response.is_success:
            self.poll_refused(response, text_of(body.get("message")))
            return None
        sending = body.get("sending")
        if not isinstance(sending, dict):
            return None
        final = FINAL_STATUSES.get(str(sending.get("status") or "").strip().lower())
        if final is None:
            return None
        status, error = final
        return Receipt(self.name, upstream_id, status, error, utcnow())

    async def probe(self) -> bool:
        assert self.client is not None, "start() the provider first"
        response = await self.client.get(self.url("/balance"), headers=self.headers)
        return response.is_success and has_money(json_object(response).get("balance"))
