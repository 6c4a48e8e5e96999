"""Local stand-ins for the seed providers as upstreams: SMSgic, devsms.uz, sms.by and Eskiz.

Each is a small Starlette app on a loopback port (uvicorn in a thread, as
``tests/support/server.py`` runs smsgate). It checks a request the way the real API does
(path, authentication, required fields and their formats) and answers in that API's shapes,
as ``/work/shared/reference/seed-apis.md`` and the seeds give them.

``mode`` picks a refusal: ``"ok"``, ``"throttle"`` (429), ``"down"`` (500), ``"balance"``
(the account at the upstream cannot pay) or ``"invalid"`` (the message is refused).
A message to a number ending in ``fail_suffix`` fails, the others are delivered. Status
requests answer "not final yet" ``pending_polls`` times per message, then the final status.
devsms.uz and Eskiz POST a status callback to the request's ``callback_url``
``callback_delay`` seconds after answering (``callback_format``: ``"json"`` or ``"form"``;
``callbacks_on`` false keeps them quiet, for the polling fallback).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.connectors.http.common import drive as drive
from tests.connectors.http.common import outbound as outbound
from tests.connectors.http.common import running as running
from tests.connectors.http.common import submit as submit


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any  # the JSON document, or the form's fields as a dict
    content_type: str  # the media type alone: application/json, multipart/form-data...


@dataclass
class Sent:
    """A message the fake accepted."""

    id: str
    phone: str
    text: str
    sender: str
    callback_url: str = ""
    polls: int = 0
    number: int = 0  # Eskiz: the numeric message id next to the request id


@dataclass
class Fake:
    mode: str = "ok"
    fail_suffix: str = "99"
    pending_polls: int = 1
    callback_delay: float = 0.1
    callback_format: str = "json"
    callbacks_on: bool = True
    balance: float = 950.0
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    sent: dict[str, Sent] = field(default_factory=dict)
    callbacks: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def reset(self) -> None:
        self.mode, self.pending_polls, self.balance = "ok", 1, 950.0
        self.callback_format, self.callbacks_on = "json", True
        self.seen.clear()
        self.sent.clear()
        self.callbacks.clear()
        self.ids = itertools.count(1001)

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def fails(self, number: str) -> bool:
        return bool(self.fail_suffix) and number.endswith(self.fail_suffix)

    async def record(self, request: Request) -> Seen:
        raw = await request.body()
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        seen = Seen(
            request.method,
            request.url.path,
            dict(request.headers),
            dict(request.query_params),
            parse_body(raw, request.headers.get("content-type", "")),
            media,
        )
        self.seen.append(seen)
        return seen

    def final(self, message: Sent, pending: str, delivered: str, failed: str) -> str:
        """A status request's answer: ``pending`` at first, then the final word."""
        message.polls += 1
        if message.polls <= self.pending_polls:
            return pending
        return failed if self.fails(message.phone) else delivered

    def call_back(self, url: str, body: dict[str, Any]) -> BackgroundTask | None:
        """POST ``body`` to ``url`` once the answer has gone out, as the provider does."""
        if not url or not self.callbacks_on:
            return None

        async def post() -> None:
            await asyncio.sleep(self.callback_delay)
            async with httpx.AsyncClient(timeout=10) as client:
                try:
                    if self.callback_format == "form":
                        answer = await client.post(url, data={k: str(v) for k, v in body.items()})
                    else:
                        answer = await client.post(url, json=body)
                    self.callbacks.append((url, body, answer.status_code))
                except httpx.HTTPError:
                    self.callbacks.append((url, body, -1))

        return BackgroundTask(post)


def parse_body(raw: bytes, content_type: str) -> Any:
    """A JSON document, or an urlencoded or multipart form as a dict (no python-multipart
    in the project: the stdlib MIME parser reads multipart)."""
    media = content_type.partition(";")[0].strip().lower()
    if not raw:
        return {}
    if media == "application/json":
        try:
            return json.loads(raw)
        except ValueError:
            return None
    if media == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        parsed = email.message_from_bytes(head + raw, policy=email.policy.HTTP)
        fields: dict[str, str] = {}
        for part in parsed.walk():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8")
        return fields
    if media == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    return None


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _text_field(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    return value.strip() if isinstance(value, str) else ""


# --- SMSgic -------------------------------------------------------------------------------

SMSGIC_MESSAGE = "Please send `message` post parameter with text for SMS"
SMSGIC_RECIPIENTS = "Please send `recipients` post parameter with recipient`s number"
SMSGIC_SENDER = "Please send `sender` post parameter with name of SMS sender"


@dataclass
class FakeSmsgic(Fake):
    """api.smsgic.com: Laravel with a Sanctum-style token; seed 001."""

    token: str = "7|smsgicTokenForTheReseller"
    senders: tuple[str, ...] = ("ACME", "INFO")

    def routes(self) -> list[Route]:
        return [
            Route("/sendings", self.create, methods=["POST"]),
            Route("/sendings/{id}", self.show, methods=["GET"]),
            Route("/balance", self.show_balance, methods=["GET"]),
        ]

    def unauthenticated(self, request: Request) -> Response | None:
        if _bearer(request) == self.token:
            return None
        if "json" not in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=302)  # Laravel, for a browser
        return JSONResponse({"message": "Unauthenticated."}, status_code=401)

    @staticmethod
    def invalid(text: str) -> JSONResponse:
        # POST /sendings puts every error under errors.message (the seed's quirk)
        return JSONResponse({"message": text, "errors": {"message": [text]}}, status_code=422)

    async def create(self, request: Request) -> Response:
        seen = await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        if self.mode == "throttle":
            return JSONResponse(
                {"message": "Too Many Attempts."}, status_code=429, headers={"Retry-After": "1"}
            )
        if self.mode == "down":
            return JSONResponse({"message": "Server Error"}, status_code=500)
        body = seen.body if seen.content_type == "application/json" else None
        if not isinstance(body, dict):
            return self.invalid(SMSGIC_MESSAGE)
        message, sender = _text_field(body, "message"), _text_field(body, "sender")
        recipients = body.get("recipients")
        if isinstance(recipients, str):  # the seed's example sends a JSON-encoded string
            recipients = json.loads(recipients)
        if not message:
            return self.invalid(SMSGIC_MESSAGE)
        if not isinstance(recipients, list) or not recipients:
            return self.invalid(SMSGIC_RECIPIENTS)
        if not sender:
            return self.invalid(SMSGIC_SENDER)
        for number in recipients:
            if not (isinstance(number, str) and re.fullmatch(r"\d{8,20}", number)):
                return self.invalid("The recipients.0 format is invalid.")
        if body.get("type") not in (None, "default", "infobip", "twilio", "messente", "trumpia"):
            return self.invalid("The selected type is invalid.")
        if self.mode == "invalid" or sender not in self.senders:
            return self.invalid("The selected sender is invalid.")
        if self.mode == "balance":
            return self.invalid("Your account balance is not enough for this sending.")
        sending_id = next(self.ids)
        self.sent[str(sending_id)] = Sent(str(sending_id), recipients[0], message, sender)
        return JSONResponse({"message": "SMS champing created", "sending_id": sending_id})

    async def show(self, request: Request) -> Response:
        await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        ident = request.path_params["id"]
        sending = self.sent.get(ident)
        if sending is None:
            return JSONResponse({"message": f"No query results for model {ident}"}, 404)
        status = self.final(sending, "Pending", "Completed", "Cancelled")
        return JSONResponse(
            {
                "sending": {
                    "id": int(ident),
                    "status": status,
                    "updated_at": "2023-04-11T15:46:26.000000Z",
                    "scheduled_at": "2023-04-11 15:46:26",
                }
            }
        )

    async def show_balance(self, request: Request) -> Response:
        await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        return JSONResponse({"balance": f"{self.balance:.3f}", "sign": "£", "code": "GBP"})


# --- devsms.uz ----------------------------------------------------------------------------


@dataclass
class FakeDevsms(Fake):
    """devsms.uz ``/api/*.php``: Bearer token, JSON in, ``{"success": ...}`` out; seed 002."""

    token: str = "devsms-token-5f2a"

    def routes(self) -> list[Route]:
        return [
            Route("/api/send_sms.php", self.send, methods=["POST"]),
            Route("/api/get_status.php", self.status, methods=["GET"]),
            Route("/api/get_balance.php", self.show_balance, methods=["GET"]),
        ]

    @staticmethod
    def error(text: str, status: int) -> JSONResponse:
        return JSONResponse({"success": False, "error": text}, status_code=status)

    def unauthenticated(self, request: Request) -> Response | None:
        if _bearer(request) == self.token:
            return None
        return self.error("Token noto'g'ri yoki muddati o'tgan", 401)

    async def send(self, request: Request) -> Response:
        seen = await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        if self.mode == "throttle":
            return self.error("Juda ko'p so'rov", 429)
        if self.mode == "down":
            return self.error("Server xatosi", 500)
        body = seen.body if seen.content_type == "application/json" else None
        phone, message = _text_field(body, "phone"), _text_field(body, "message")
        callback_url = _text_field(body, "callback_url")
        if not phone or not message:
            return self.error("phone va message majburiy", 400)
        if self.mode == "invalid" or not re.fullmatch(r"\d{9,15}", phone):
            return self.error("Telefon raqam noto'g'ri", 400)
        if callback_url and not re.match(r"https?://", callback_url):
            return self.error("callback_url noto'g'ri", 400)
        if self.mode == "balance":
            return self.error("Balans yetarli emas", 400)
        sms_id = next(self.ids)
        sent = Sent(str(sms_id), phone, message, _text_field(body, "from") or "4546", callback_url)
        self.sent[sent.id] = sent
        request_id = str(uuid.uuid4())
        status = "UNDELIVERABLE" if self.fails(phone) else "DELIVERED"
        report = {"sms_id": sms_id, "request_id": request_id, "phone": phone, "status": status}
        return JSONResponse(
            {
                "success": True,
                "message": "SMS muvaffaqiyatli yuborildi",
                "data": {
                    "sms_id": sms_id,
                    "request_id": request_id,
                    "status": "waiting",
                    "parts_count": 1,
                    "total_cost": 50,
                    "balance": self.balance - 50,
                },
            },
            background=self.call_back(callback_url, report),
        )

    async def status(self, request: Request) -> Response:
        seen = await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        sent = self.sent.get(seen.query.get("sms_id", ""))
        if sent is None:
            return self.error("SMS topilmadi", 404)
        status = self.final(sent, "waiting", "DELIVERED", "UNDELIVERABLE")
        return JSONResponse(
            {
                "success": True,
                "data": {"sms_id": int(sent.id), "phone": sent.phone, "status": status},
            }
        )

    async def show_balance(self, request: Request) -> Response:
        await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        return JSONResponse({"success": True, "data": {"balance": self.balance, "sms_price": 50}})


# --- sms.by -------------------------------------------------------------------------------


@dataclass
class FakeSmsby(Fake):
    """app.sms.by ``/api/v1/<command>``: the token as a parameter, ``{"error"}`` on failure."""

    token: str = "smsby-api-key-0c1d"
    alphanames: tuple[str, ...] = ("0", "1363")
    legacy_check: bool = False  # checkSMS without "status", as before 2024

    def reset(self) -> None:
        super().reset()
        self.legacy_check = False

    def routes(self) -> list[Route]:
        return [Route("/api/v1/{command}", self.command, methods=["GET", "POST"])]

    async def command(self, request: Request) -> Response:
        seen = await self.record(request)
        params = dict(seen.query)
        if isinstance(seen.body, dict):
            params.update({k: str(v) for k, v in seen.body.items()})
        if params.get("token") != self.token:
            return JSONResponse({"error": "Unauthenticated."}, status_code=401)
        handler = {
            "sendquicksms": self.send_quick_sms,
            "checksms": self.check_sms,
            "getbalance": self.get_balance,
        }.get(request.path_params["command"].lower())
        if handler is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return handler(params)

    def send_quick_sms(self, params: dict[str, str]) -> Response:
        if self.mode == "throttle":
            return JSONResponse({"error": "Too Many Attempts."}, status_code=429)
        if self.mode == "down":
            return JSONResponse({"error": "Server is not available"}, status_code=500)
        message, phone = params.get("message", ""), params.get("phone", "")
        if not message or not re.fullmatch(r"\d{10,15}", phone):
            return JSONResponse({"error": "undefined error"})
        if self.mode == "invalid" or params.get("alphaname_id", "0") not in self.alphanames:
            return JSONResponse({"error": "Wrong alphaname. Check it is correct and approved."})
        if len(message) > 1530:
            return JSONResponse(
                {"error": "Message is too long. Allowed size: 1530 chars for 10 sms."}
            )
        if self.mode == "balance":
            return JSONResponse({"error": "Insufficient balance"})
        sms_id = next(self.ids)
        self.sent[str(sms_id)] = Sent(str(sms_id), phone, message, params.get("alphaname_id", ""))
        return JSONResponse({"sms_id": sms_id, "status": "NEW", "parts": 1})

    def check_sms(self, params: dict[str, str]) -> Response:
        sent = self.sent.get(params.get("sms_id", ""))
        if sent is None:
            return JSONResponse({"error": "not found"})
        status = self.final(sent, "SENT", "DELIVERED", "UNDELIVERED")
        sent_at, delivered_at = 1616064780, 1616064790 if status == "DELIVERED" else 0
        if self.legacy_check:
            key, at = ("delivered", delivered_at) if delivered_at else ("sent", sent_at)
            return JSONResponse({"sms_id": int(sent.id), key: at})
        return JSONResponse(
            {"sms_id": int(sent.id), "sent": sent_at, "delivered": delivered_at, "status": status}
        )

    def get_balance(self, params: dict[str, str]) -> Response:
        return JSONResponse(
            {
                "status": "OK",
                "currency": "BYN",
                "result": [{"balance": f"{self.balance:.5f}", "viber_balance": "0.00000"}],
            }
        )


# --- Eskiz --------------------------------------------------------------------------------


@dataclass
class FakeEskiz(Fake):
    """notify.eskiz.uz ``/api/...``: JWT from ``/auth/login``, form fields in, callbacks."""

    email: str = "reseller@example.uz"
    password: str = "eskiz-password-9"
    tokens: set[str] = field(default_factory=set)
    logins: int = 0

    def reset(self) -> None:
        super().reset()
        self.password = "eskiz-password-9"
        self.tokens.clear()
        self.logins = 0

    def routes(self) -> list[Route]:
        return [
            Route("/api/auth/login", self.login, methods=["POST"]),
            Route("/api/message/sms/send", self.send, methods=["POST"]),
            Route("/api/message/sms/status_by_id/{id}", self.status, methods=["GET"]),
            Route("/api/user/get-limit", self.limit, methods=["GET"]),
        ]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def jwt(self) -> str:
        def part(document: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")

        claims = {"exp": int(time.time()) + 30 * 86400, "sub": "1", "jti": uuid.uuid4().hex}
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{uuid.uuid4().hex}"

    def unauthenticated(self, request: Request) -> Response | None:
        if _bearer(request) in self.tokens:
            return None
        return JSONResponse({"message": "Expired", "status": "token_expired"}, status_code=401)

    async def login(self, request: Request) -> Response:
        seen = await self.record(request)
        body = seen.body if isinstance(seen.body, dict) else {}
        if (body.get("email"), body.get("password")) != (self.email, self.password):
            return JSONResponse(
                {"message": "Invalid credentials", "status": "error"}, status_code=401
            )
        self.logins += 1
        token = self.jwt()
        self.tokens.add(token)
        return JSONResponse(
            {"message": "token_generated", "data": {"token": token}, "token_type": "bearer"}
        )

    async def send(self, request: Request) -> Response:
        seen = await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        if self.mode == "throttle":
            return JSONResponse({"message": "Too Many Attempts."}, status_code=429)
        if self.mode == "down":
            return JSONResponse({"message": "Server Error"}, status_code=500)
        if seen.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return JSONResponse({"message": "form fields expected", "status": "error"}, 400)
        body = seen.body if isinstance(seen.body, dict) else {}
        phone, message = _text_field(body, "mobile_phone"), _text_field(body, "message")
        if not re.fullmatch(r"998\d{9}", phone) or not message:
            return JSONResponse(
                {"status": "fail", "data": {"alert": "mobile_phone noto'g'ri"}}, status_code=400
            )
        if self.mode == "invalid":
            return JSONResponse(
                {"message": "Bu SMS matni moderatsiyadan o'tmagan", "status": "error"}, 400
            )
        if self.mode == "balance":
            return JSONResponse({"message": "Недостаточно средств", "status": "error"}, 400)
        number = next(self.ids)
        request_id = str(uuid.uuid4())
        callback_url = _text_field(body, "callback_url")
        sent = Sent(request_id, phone, message, _text_field(body, "from"), callback_url, 0, number)
        self.sent[request_id] = sent
        report = {
            "request_id": request_id,
            "message_id": number,
            "user_sms_id": "",
            "country": "UZ",
            "phone_number": phone,
            "sms_count": 1,
            "status": "UNDELIV" if self.fails(phone) else "DELIVRD",
            "status_date": "2025-01-01 12:00:00",
        }
        return JSONResponse(
            {"id": request_id, "message": "Waiting for SMS provider", "status": "waiting"},
            background=self.call_back(callback_url, report),
        )

    async def status(self, request: Request) -> Response:
        await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        sent = self.sent.get(request.path_params["id"])
        if sent is None:
            return JSONResponse({"message": "Not found", "status": "error"}, status_code=404)
        status = self.final(sent, "ACCEPTD", "DELIVRD", "UNDELIV")
        return JSONResponse(
            {
                "status": "success",
                "data": {
                    "id": sent.number,
                    "request_id": sent.id,
                    "to": sent.phone,
                    "status": status,
                },
            }
        )

    async def limit(self, request: Request) -> Response:
        await self.record(request)
        refused = self.unauthenticated(request)
        if refused is not None:
            return refused
        return JSONResponse({"status": "success", "data": {"balance": self.balance}})


# --- running and driving ------------------------------------------------------------------


# running() and outbound() live in tests/connectors/http/common.py
