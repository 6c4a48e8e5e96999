"""Eskiz (notify.eskiz.uz, the upstream devsms.uz resells) as an upstream; status by callback.

Auth: ``POST {base_url}/api/auth/login`` with the form fields ``email`` (the ``email``
option) and ``password`` (the connector's secret) answers ``{"message": "token_generated",
"data": {"token": "<JWT>"}, "token_type": "bearer"}``. The token is kept in memory (never
stored) and sent as ``Authorization: Bearer``; a 401 (expired or revoked token) logs in
again, once per request. A refused login means the connector cannot send: the message is
TRANSIENT, the connector unhealthy (``eskiz_auth``) until a login works again.

Send: ``POST {base_url}/api/message/sms/send`` with the form fields (multipart, as in
Eskiz's Postman collection) ``mobile_phone`` (digits, no ``+``), ``message``, ``from`` (the
``sender`` option or the message's sender; Eskiz's shared short code is ``4546``) and
``callback_url`` (the ``callback_url`` option: the public URL of smsgate's
``/v1/callbacks/{connector}``). The answer ``{"id": "<uuid>", "message": "Waiting for SMS
provider", "status": "waiting"}`` gives the upstream id. Errors are ``{"message", "status"}``
or ``{"status": "fail", "data": {"alert"}}``: a balance text means the connector cannot send
(TRANSIENT, unhealthy), any other refusal (a text not approved by moderation, a nick not
allowed, a bad number) rejects the message (``eskiz_invalid``); 429 and 5xx are TRANSIENT.

Callbacks: Eskiz POSTs (JSON or form) at least ``request_id`` (the ``id`` of the send
answer) and ``status``: ``DELIVRD``/``DELIVERED`` → delivered; ``UNDELIV``, ``EXPIRED``,
``DELETED``, ``UNKNOWN``, ``FAILED`` → undeliverable (``eskiz_undeliv``...); ``REJECTD``/
``REJECTED`` → rejected; anything else (``waiting``, ``ACCEPTD``, ``TRANSMTD``,
``partdelivered``...) is not final. Polling ``GET {base_url}/api/message/sms/status_by_id/{id}``
is a fallback, off unless the ``poll_interval`` option is set. Eskiz splits long texts
itself: one id, one part for receipts.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
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
REFUSAL_MEMORY = 5.0  # seconds a refused login is answered from memory


@register
class EskizProvider(SeedProvider):
    kind: ClassVar[str] = "eskiz"
    required: ClassVar[tuple[str, ...]] = ("base_url", "email")
    api_prefix: ClassVar[str] = "/api"
    poll_interval: ClassVar[float | None] = None

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        self.email = str(self.options["email"])
        self.callback_url = str(self.options.get("callback_url") or "")
        self.token: str | None = None
        self.logins = 0
        self._login_lock = asyncio.Lock()
        self._refused: httpx.Response | None = None
        self._refused_at = 0.0

    # --- the bearer token -----------------------------------------------------------------

    async def login(self, stale: str | None = None, force: bool = False) -> httpx.Response | None:
        """Make sure a token is held: log in when there is none, or when ``stale`` (the one
        just refused) is still the one held. Returns the refused login's answer, if any; a
        refusal is remembered for ``REFUSAL_MEMORY`` seconds (unless ``force``), so that the
        messages sent together do not each try the same wrong password."""
        assert self.client is not None, "start() the provider first"
        async with self._login_lock:
            # A bearer token is a secret: compared in constant time, like every other one.
            held = self.token
            if held is not None and not hmac.compare_digest(held.encode(), (stale or "").encode()):
                return None
            if (
                not force
                and self._refused is not None
                and time.monotonic() - self._refused_at < REFUSAL_MEMORY
            ):
                return self._refused
            self.token = None
            self.logins += 1
            response = await self.client.post(
                self.url("/auth/login"),
                files={"email": (None, self.email), "password": (None, self.secret)},
                headers={"Accept": "application/json"},
            )
            data = json_object(response).get("data")
            token = data.get("token") if isinstance(data, dict) else None
            if response.is_success and isinstance(token, str) and token:
                self.token, self._refused = token, None
                return None
            self._refused, self._refused_at = response, time.monotonic()
            return response

    async def authorized(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[httpx.Response, bool]:
        """``(answer, True)`` of a request made with the token (logging in again once on a
        401), or ``(the refused login's answer, False)``."""
        assert self.client is not None, "start() the provider first"
        refused = await self.login()
        if refused is not None:
            return refused, False
        for attempt in range(2):
            token = self.token
            response = await self.client.request(
                method,
                self.url(path),
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                **kwargs,
            )
            if response.status_code != 401 or attempt:
                return response, True
            refused = await self.login(stale=token)
            if refused is not None:
                return refused, False
        raise AssertionError("unreachable")

    # --- sending --------------------------------------------------------------------------

    def form(self, msg: OutboundMessage) -> dict[str, tuple[None, str]]:
        fields = {
            "mobile_phone": msg.msisdn.lstrip("+"),
            "message": msg.text,
            "from": self.sender_of(msg),
        }
        if self.callback_url:
            fields["callback_url"] = self.callback_url
        return {k: (None, v) for k, v in fields.items()}  # multipart form fields, no files

    async def send_one(self, msg: OutboundMessage) -> SubmitResult:
        response, logged_in = await self.authorized(
            "POST", "/message/sms/send", files=self.form(msg)
        )
        body = json_object(response)
        if not logged_in:
            text = _error_text(body)
            if response.status_code == 429 or response.status_code >= 500:
                return self.refused(msg, response.status_code, text)
            detail = f"login refused: {response.status_code} {text}".strip()
            return self.out_of_service(msg, "auth", detail)
        upstream_id = body.get("id")
        failed = str(body.get("status") or "").lower() in ("error", "fail")
        if response.is_success and not failed:
            if is_id(upstream_id):
                return SubmitResult(msg.id, Outcome.SUBMITTED, (str(upstream_id),))
            return self.refused(msg, response.status_code, "")  # an odd answer
        return self.refused(msg, response.status_code, _error_text(body))

    @classmethod
    def parse_callback(
        cls, name: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> list[Receipt]:
        fields = fields_of(body, headers, query)
        request_id = fields.get("request_id") or fields.get("id") or ""
        if not request_id:
            log.warning("eskiz callback without request_id", connector=name, fields=sorted(fields))
            return []
        receipt = receipt_for(name, cls.kind, request_id, fields.get("status") or "")
        return [receipt] if receipt is not None else []

    async def status_of(self, upstream_id: str) -> Receipt | None:
        response, logged_in = await self.authorized(
            "GET", f"/message/sms/status_by_id/{quote(upstream_id, safe='')}"
        )
        body = json_object(response)
        if not logged_in or not response.is_success:
            self.poll_refused(response, _error_text(body))
            return None
        data = body.get("data")
        row = data if isinstance(data, dict) else {}
        return self.receipt(upstream_id, str(row.get("status") or ""))

    async def probe(self) -> bool:
        refused = await self.login(stale=self.token, force=True)
        if refused is not None:
            return False
        response, logged_in = await self.authorized("GET", "/user/get-limit")
        data = json_object(response).get("data")
        balance = data.get("balance") if isinstance(data, dict) else None
        return logged_in and response.is_success and has_money(balance)


def _error_text(body: Mapping[str, Any]) -> str:
    """``{"message": ...}``, ``{"status": "fail", "data": {"alert": ...}}`` or Laravel's
    ``{"message", "errors": {...}}``."""
    parts = [text_of(body.get("message"))]
    data = body.get("data")
    if isinstance(data, dict):
        parts.append(text_of(data.get("alert")))
    parts.append(text_of(body.get("errors")))
    return " ".join(p for p in parts if p)
