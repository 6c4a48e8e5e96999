"""Local stand-ins for Twilio, Infobip, Messente and Trumpia, each a small Starlette app on a
loopback port (uvicorn in a thread, as ``tests/support/server.py`` runs smsgate).

Each fake checks a request the way the real API does (path, authentication, required
fields) and answers in that API's format. ``mode`` picks a failure: ``"ok"``,
``"throttle"`` (429), ``"down"`` (5xx) or a provider-specific refusal. Accepted messages to
numbers ending in ``fail_suffix`` get a failed delivery report, others a delivered one. A
fake that is given a callback URL in the request (StatusCallback, notifyUrl, dlr_url) POSTs
its delivery reports there, as the real provider does, ``callback_delay`` seconds after
answering; Trumpia answers status reports instead. Twilio signs what it POSTs
(``X-Twilio-Signature``, computed here from Twilio's documented recipe). ``proxy`` maps a
public URL prefix to the loopback one that actually answers, as a reverse proxy in front of
smsgate would: the fake signs the public URL and connects to the loopback one. Twilio and
Infobip also forward inbound (MO) messages (``send_inbound``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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
    body: Any  # the form (dict) or the JSON document


@dataclass
class Fake:
    mode: str = "ok"
    fail_suffix: str = "99"
    callback_delay: float = 0.2
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (url, HTTP status)
    proxy: dict[str, str] = field(default_factory=dict)  # public URL prefix -> loopback

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def target(self, url: str) -> str:
        """Where a request to ``url`` really goes (through the proxy, if one covers it)."""
        for public, actual in self.proxy.items():
            if url.startswith(public):
                return actual + url[len(public) :]
        return url

    def headers_for(self, url: str, body: dict[str, Any]) -> dict[str, str]:
        """Headers of a callback to ``url`` (a signature, for providers that sign)."""
        return {}

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def fails(self, number: str) -> bool:
        return bool(self.fail_suffix) and number.endswith(self.fail_suffix)

    def later(self, posts: list[tuple[str, dict[str, Any]]], *, form: bool) -> BackgroundTask:
        """Delivery reports, (url, body), POSTed in order after the answer has gone out."""

        async def post() -> None:
            await asyncio.sleep(self.callback_delay)
            async with httpx.AsyncClient(timeout=10) as client:
                for url, body in posts:
                    try:
                        headers = self.headers_for(url, body)
                        sent = await (
                            client.post(self.target(url), data=body, headers=headers)
                            if form
                            else client.post(self.target(url), json=body, headers=headers)
                        )
                        self.callbacks.append((url, sent.status_code))
                    except httpx.HTTPError:
                        self.callbacks.append((url, -1))

        return BackgroundTask(post)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return user, password


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


# --- Twilio -------------------------------------------------------------------------------


def twilio_signature(url: str, form: dict[str, str], auth_token: str) -> str:
    """Twilio's recipe: the URL, then each POST field sorted by name as name + value,
    HMAC-SHA1 under the Auth Token, base64."""
    text = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(
        hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    ).decode()


@dataclass
class FakeTwilio(Fake):
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "twilio-auth-token"
    # how callbacks are signed: "ok", "none" (no header), "wrong_key", "request_url" (signs
    # the URL it connects to instead of the one it was given)
    signing: str = "ok"

    def headers_for(self, url: str, body: dict[str, Any]) -> dict[str, str]:
        if self.signing == "none":
            return {}
        key = "not-the-auth-token" if self.signing == "wrong_key" else self.auth_token
        signed = self.target(url) if self.signing == "request_url" else url
        return {"X-Twilio-Signature": twilio_signature(signed, body, key)}

    def send_inbound(self, url: str, source: str, to: str, text: str) -> httpx.Response:
        """A handset's message to one of our Twilio numbers, forwarded by the number's
        incoming-message webhook (configured with ``url``)."""
        sid = "SM" + uuid.uuid4().hex
        form = {
            "ToCountry": "LV",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": source,
            "ApiVersion": "2010-04-01",
        }
        return httpx.post(self.target(url), data=form, headers=self.headers_for(url, form))

    def routes(self) -> list[Route]:
        return [Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create, methods=["POST"])]

    @staticmethod
    def error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status,
        )

    async def create(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.seen.append(Seen("POST", request.url.path, dict(request.headers), form))
        if _basic(request) != (self.account_sid, self.auth_token) or (
            request.path_params["sid"] != self.account_sid
        ):
            return self.error(401, 20003, "Authenticate")
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return self.error(400, 20001, "Invalid content type")
        if self.mode == "throttle":
            return self.error(429, 20429, "Too Many Requests")
        if self.mode == "down":
            return Response("<html>Service Unavailable</html>", 503, media_type="text/html")
        to = form.get("To", "")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not (to.startswith("+") and to[1:].isdigit()) or self.mode == "invalid_number":
            return self.error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self.error(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if not form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        sid = "SM" + uuid.uuid4().hex
        status = "accepted" if form.get("MessagingServiceSid") else "queued"
        task = None
        if form.get("StatusCallback"):
            common = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "To": to}
            final = (
                {"MessageStatus": "undelivered", "ErrorCode": "30003"}
                if self.fails(to)
                else {"MessageStatus": "delivered"}
            )
            url = form["StatusCallback"]
            task = self.later(
                [(url, common | {"MessageStatus": "sent"}), (url, common | final)], form=True
            )
        answer = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": status,
            "num_segments": str(max(1, -(-len(form["Body"]) // 153))),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return JSONResponse(answer, 201, background=task)


# --- Infobip ------------------------------------------------------------------------------


@dataclass
class FakeInfobip(Fake):
    api_key: str = "infobip-api-key"

    def send_inbound(self, url: str, *messages: tuple[str, str, str]) -> httpx.Response:
        """Handsets' messages ``(from, to, text)`` forwarded to ``url`` in the default
        ``MO_JSON_2`` format of a number's forwarding action."""
        results = [
            {
                "messageId": uuid.uuid4().hex,
                "from": source,
                "to": to,
                "text": text,
                "cleanText": text,
                "keyword": "",
                "receivedAt": "2026-11-24T10:00:01.250+0000",
                "smsCount": 1,
                "price": {"pricePerMessage": 0, "currency": "EUR"},
                "callbackData": None,
            }
            for source, to, text in messages
        ]
        body = {"results": results, "messageCount": len(results), "pendingMessageCount": 0}
        return httpx.post(self.target(url), json=body)

    def routes(self) -> list[Route]:
        return [Route("/sms/2/text/advanced", self.send, methods=["POST"])]

    @staticmethod
    def error(status: int, message_id: str, text: str) -> JSONResponse:
        return JSONResponse(
            {"requestError": {"serviceException": {"messageId": message_id, "text": text}}},
            status,
        )

    async def send(self, request: Request) -> Response:
        body = await _json_body(request)
        self.seen.append(Seen("POST", request.url.path, dict(request.headers), body))
        if request.headers.get("authorization") != f"App {self.api_key}":
            return self.error(401, "UNAUTHORIZED", "Invalid login details")
        if self.mode == "throttle":
            return self.error(429, "TOO_MANY_REQUESTS", "Too many requests")
        if self.mode == "down":
            return self.error(500, "GENERAL_ERROR", "Something went wrong")
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            return self.error(400, "BAD_REQUEST", "Bad request")
        answered: list[dict[str, Any]] = []
        reports: list[tuple[str, dict[str, Any]]] = []
        bulk = uuid.uuid4().hex
        for message in messages:
            destinations = message.get("destinations")
            if not message.get("text") or not isinstance(destinations, list) or not destinations:
                return self.error(400, "BAD_REQUEST", "Bad request")
            for destination in destinations:
                to = str(destination.get("to", ""))
                if not to.isdigit():  # international format, no '+'
                    return self.error(400, "BAD_REQUEST", "Invalid destination address")
                message_id = uuid.uuid4().hex
                if self.mode == "no_credit":
                    status = {
                        "groupId": 5,
                        "groupName": "REJECTED",
                        "id": 12,
                        "name": "REJECTED_NOT_ENOUGH_CREDITS",
                        "description": "Not enough credits",
                    }
                else:
                    status = {
                        "groupId": 1,
                        "groupName": "PENDING",
                        "id": 26,
                        "name": "PENDING_ACCEPTED",
                        "description": "Message sent to next instance",
                    }
                    if message.get("notifyUrl"):
                        report = {"results": [self.report(bulk, message_id, to)]}
                        reports.append((message["notifyUrl"], report))
                answered.append({"to": to, "status": status, "messageId": message_id})
        task = self.later(reports, form=False) if reports else None
        return JSONResponse({"bulkId": bulk, "messages": answered}, 200, background=task)

    def report(self, bulk: str, message_id: str, to: str) -> dict[str, Any]:
        if self.fails(to):
            status = {
                "groupId": 2,
                "groupName": "UNDELIVERABLE",
                "id": 9,
                "name": "UNDELIVERABLE_NOT_DELIVERED",
                "description": "Message sent not delivered",
            }
            error = {
                "groupId": 1,
                "groupName": "HANDSET_ERRORS",
                "id": 1,
                "name": "EC_UNKNOWN_SUBSCRIBER",
                "description": "Unknown subscriber",
                "permanent": True,
            }
        else:
            status = {
                "groupId": 3,
                "groupName": "DELIVERED",
                "id": 5,
                "name": "DELIVERED_TO_HANDSET",
                "description": "Message delivered to handset",
            }
            error = {
                "groupId": 0,
                "groupName": "OK",
                "id": 0,
                "name": "NO_ERROR",
                "description": "No Error",
                "permanent": False,
            }
        return {
            "bulkId": bulk,
            "messageId": message_id,
            "to": to,
            "sentAt": "2024-01-01T10:00:00.000+0000",
            "doneAt": "2024-01-01T10:00:01.000+0000",
            "smsCount": 1,
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": status,
            "error": error,
        }


# --- Messente -----------------------------------------------------------------------------


@dataclass
class FakeMessente(Fake):
    username: str = "messente-user"
    password: str = "messente-password"

    def routes(self) -> list[Route]:
        return [Route("/v1/omnimessage", self.send, methods=["POST"])]

    @staticmethod
    def error(status: int, code: str, title: str, detail: str, source: str | None) -> Response:
        return JSONResponse(
            {"errors": [{"title": title, "detail": detail, "code": code, "source": source}]},
            status,
        )

    async def send(self, request: Request) -> Response:
        body = await _json_body(request)
        self.seen.append(Seen("POST", request.url.path, dict(request.headers), body))
        if _basic(request) != (self.username, self.password):
            return self.error(401, "103", "Unauthorized", "Wrong username or password", None)
        if self.mode == "throttle":
            return self.error(429, "104", "Too many requests", "Slow down", None)
        if self.mode == "down":
            return Response("Bad Gateway", 502)
        if not isinstance(body, dict):
            return self.error(400, "105", "Invalid data", "Body is not JSON", "payload")
        to = str(body.get("to") or "")
        if not to:
            return self.error(400, "106", "Missing data", "to is required", "payload[to]")
        if not (to.startswith("+") and to[1:].isdigit()) or self.mode == "invalid_number":
            return self.error(400, "105", "Invalid data", "Invalid phone number", "payload[to]")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "106", "Missing data", "messages", "payload[messages]")
        answered = []
        for message in messages:
            if message.get("channel", "sms") != "sms" or not message.get("text"):
                return self.error(400, "105", "Invalid data", "text", "payload[messages]")
            answered.append(
                {"channel": "sms", "message_id": str(uuid.uuid4()), "sender": message.get("sender")}
            )
        omnimessage_id = str(uuid.uuid4())
        task = None
        if body.get("dlr_url"):
            first = answered[0]
            common = {
                "message_id": first["message_id"],
                "omnimessage_id": omnimessage_id,
                "channel": "sms",
                "sender": first["sender"],
                "to": to,
                "timestamp": "2024-01-01T10:00:01.000000",
            }
            final = (
                {"status": "UNDELIV", "err": 1, "error": "Failed to deliver"}
                if self.fails(to)
                else {"status": "DELIVRD", "err": 0, "error": None}
            )
            url = body["dlr_url"]
            ack = common | {"status": "ACK", "err": 0, "error": None}
            task = self.later([(url, ack), (url, common | final)], form=False)
        return JSONResponse(
            {"messages": answered, "to": to, "omnimessage_id": omnimessage_id}, 201, background=task
        )


# --- Trumpia ------------------------------------------------------------------------------


@dataclass
class FakeTrumpia(Fake):
    user_name: str = "trumpia-user"
    api_key: str = "trumpia-api-key"
    processing_reports: int = 1  # reports answered "processing" before the outcome
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _sms_ids: Iterator[int] = field(default_factory=lambda: itertools.count(7000))

    def routes(self) -> list[Route]:
        return [
            Route("/rest/v1/{user}/sms", self.send, methods=["PUT"]),
            Route("/rest/v1/{user}/report/{request_id}", self.report, methods=["GET"]),
        ]

    def authorized(self, request: Request) -> bool:
        return (
            request.path_params["user"] == self.user_name
            and request.headers.get("x-apikey") == self.api_key
        )

    @staticmethod
    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"status_code": code, "error_message": message}, status)

    async def send(self, request: Request) -> Response:
        body = await _json_body(request)
        self.seen.append(Seen("PUT", request.url.path, dict(request.headers), body))
        if not self.authorized(request):
            return self.error(401, "MPCE0101", "Invalid API key")
        if self.mode == "throttle":
            return self.error(429, "MPCE0429", "Too many requests")
        if self.mode == "down":
            return Response("Service Unavailable", 503)
        if request.headers.get("content-type") != "application/json" or not isinstance(body, dict):
            return self.error(400, "MPCE0201", "Invalid content type")
        number = str(body.get("mobile_number") or "")
        if not number or not body.get("message"):
            return self.error(400, "MPCE0301", "mobile_number and message are required")
        if str(body.get("country_code", "1")) == "0" and not number.startswith("+"):
            return self.error(400, "MPCE0302", "E.164 mobile number expected")
        if self.mode == "invalid_number":
            return self.error(400, "MPCE0303", "Invalid mobile number")
        request_id = uuid.uuid4().hex
        sms_id = next(self._sms_ids)
        self.requests[request_id] = {"number": number, "sms_id": sms_id, "asked": 0}
        return JSONResponse({"request_id": request_id, "sms_id": sms_id})

    async def report(self, request: Request) -> Response:
        self.seen.append(Seen("GET", request.url.path, dict(request.headers), None))
        if not self.authorized(request):
            return self.error(401, "MPCE0101", "Invalid API key")
        request_id = request.path_params["request_id"]
        known = self.requests.get(request_id)
        if known is None:
            return self.error(404, "MPCE0501", "Unknown request_id")
        known["asked"] += 1
        if known["asked"] <= self.processing_reports:
            return JSONResponse({"request_id": request_id, "status_code": "MPCE4001"})
        if self.fails(known["number"]):
            return JSONResponse(
                {
                    "request_id": request_id,
                    "status_code": "MRME0551",
                    "error_message": "Mobile number is blocked",
                }
            )
        return JSONResponse(
            {
                "request_id": request_id,
                "sms_id": known["sms_id"],
                "mobile_number": known["number"],
                "status": "sent",
            }
        )


# --- running them -------------------------------------------------------------------------


# running() and outbound() live in tests/connectors/http/common.py
