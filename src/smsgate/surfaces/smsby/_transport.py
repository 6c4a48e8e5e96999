"""How sms.by clients call: one command per URL, parameters anywhere, ``{"error": ...}`` back.

Parameters are merged from the query string and the body (urlencoded, multipart or JSON), the
body winning as in Laravel's ``$request->input()``; unknown ones are ignored. The token is the
``token`` parameter or ``Authorization: Bearer``. Answers are JSON as Laravel's
``JsonResponse`` writes it: compact, ``/`` escaped as ``\\/`` and non-ASCII as ``\\uXXXX``.

Errors keep the core's message unless sms.by documents its own string for the case
(``_LITERALS``), and take the status codes sms.by documents: 400 for a request to fix,
403 for a token problem, 404 for an unknown command or id, 421 for ``createBill`` data, 429
for the rate limit and 500 when the server cannot answer.
"""

from __future__ import annotations

import email.errors
import email.policy
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from typing import TypeVar
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import msgspec
from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.accounts.service import Principal
from smsgate.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    SmsgateError,
    TooManyRequests,
    retry_headers,
)
from smsgate.messaging.status import MessageStatus
from smsgate.runtime import Runtime
from smsgate.surfaces.deps import BAD_JSON, authenticate_async, bearer, read_body, runtime, served
from smsgate.surfaces.rendering import register

T = TypeVar("T")
Handler = Callable[["Call"], Awaitable[Response]]
COMMANDS: dict[str, Handler] = {}

# The only place canonical statuses meet sms.by's single-SMS vocabulary (BRIEF.md).
SMS_STATUS: dict[str, str] = {
    MessageStatus.SCHEDULED: "NEW",
    MessageStatus.QUEUED: "NEW",
    MessageStatus.SUBMITTED: "SENT",
    MessageStatus.DELIVERED: "DELIVERED",
    MessageStatus.UNDELIVERABLE: "UNDELIVERED",
    MessageStatus.REJECTED: "UNDELIVERED",
    MessageStatus.CANCELLED: "UNDELIVERED",
}

WRONG_ALPHANAME = "Wrong alphaname. Check it is correct and approved."
NOT_FOUND = "not found"
# Strings sms.by documents, by the core's error code; anything else keeps the core's message.
_LITERALS: dict[str, str] = {
    "sender_not_approved": WRONG_ALPHANAME,
    "invalid_sender": WRONG_ALPHANAME,
    "template_not_found": NOT_FOUND,
    "password_object_not_found": NOT_FOUND,
    "invalid_code_length": "len value must be beetwen 1 and 16",  # sic, as sms.by spells it
    "invalid_code_kind": "type_id must be one of letters, numbers, both",
    "code_placeholder_missing": "message must contain %CODE%",
}
_STATUS = {401: 403, 403: 403, 404: 404, 405: 405, 413: 413, 421: 421, 429: 429}
_PHP_TIME = "%Y-%m-%d %H:%M:%S"
_MAX_FIELDS = 1000


class DataNotVerified(InvalidRequest):
    """sms.by's 421, documented for ``createBill``: the submitted data failed its checks."""

    status = 421
    code = "data_not_verified"


class RateLimited(TooManyRequests):
    code = "rate_limited"


def encode(body: object) -> bytes:
    # "/" can only occur inside JSON strings, so escaping every one keeps the JSON valid.
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("/", "\\/").encode("ascii")


def answer(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status, headers=headers, media_type="application/json")


def render(exc: SmsgateError) -> Response:
    status = _STATUS.get(exc.status, 500 if exc.status >= 500 else 400)
    return answer({"error": exc.message}, status, retry_headers(exc))


register(lambda path: path == "/api/v1" or path.startswith("/api/v1/"), render)


def too_long(max_parts: int) -> str:
    gsm = 160 if max_parts == 1 else 153 * max_parts
    ucs = 70 if max_parts == 1 else 67 * max_parts
    return (
        f"Message is too long. Allowed size: {gsm} chars for {max_parts} sms "
        f"(160 latin symbols /sms). {ucs} chars for {max_parts} ciryllic sms, "
        "and 70/sms for cyrillic symbols."
    )


def translate(exc: SmsgateError, max_parts: int) -> SmsgateError:
    """The core's error with sms.by's documented wording where it has one."""
    literal = too_long(max_parts) if exc.code == "too_many_parts" else _LITERALS.get(exc.code)
    if literal is None:
        return exc
    out = SmsgateError(literal, code=exc.code, field=exc.field)
    out.status = exc.status
    return out


class FixedWindow:
    """At most ``limit`` hits per key in each ``window`` seconds (one process's count).

    Written here because ``smsgate.kit`` has no rate limiter yet.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[int, tuple[float, int]] = {}

    def hit(self, key: int, now: float | None = None) -> float | None:
        """None if allowed, else the seconds until the window resets."""
        now = time.monotonic() if now is None else now
        start, count = self._hits.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return self.window - (now - start)
        if len(self._hits) >= 100_000:
            self._hits = {k: v for k, v in self._hits.items() if now - v[0] < self.window}
        self._hits[key] = (start, count + 1)
        return None


def _limiter(request: Request, per_minute: int) -> FixedWindow:
    state = served(request)
    limiter: FixedWindow | None = getattr(state, "smsby_limiter", None)
    if limiter is None:
        limiter = state.smsby_limiter = FixedWindow(per_minute)
    return limiter


def _scalar(value: object) -> str | None:
    """A JSON value as PHP would see it in ``$request->input()``: scalars only."""
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _multipart(content_type: str, raw: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvalidRequest("the multipart body has no parts", code="malformed_body")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # files (sms.by's v2 image upload) are not supported
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
        if len(fields) > _MAX_FIELDS:
            raise InvalidRequest(f"more than {_MAX_FIELDS} fields", code="malformed_body")
    return fields


def _body_params(content_type: str, raw: bytes) -> dict[str, str]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(
            parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
        )
    if kind == "multipart/form-data":
        return _multipart(content_type, raw)
    if "json" in kind or (kind in ("", "text/plain") and raw.lstrip()[:1] == b"{"):
        try:
            data = msgspec.json.decode(raw)
        except BAD_JSON as exc:
            raise InvalidRequest(
                "the request body is not valid JSON", code="malformed_json"
            ) from exc
        if not isinstance(data, dict):
            raise InvalidRequest("the JSON body must be an object", code="malformed_json")
        return {str(k): v for k, v in ((k, _scalar(v)) for k, v in data.items()) if v is not None}
    return {}  # PHP ignores bodies of other types


async def read_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params.items())
    if request.method == "POST":
        raw = await read_body(request)
        if raw.strip():
            try:
                params.update(_body_params(request.headers.get("content-type", ""), raw))
            except (ValueError, LookupError, email.errors.MessageError) as exc:
                # undecodable bytes, an unknown charset, too many fields, broken MIME
                raise InvalidRequest(
                    "the request body could not be read as UTF-8 form data or JSON",
                    code="malformed_body",
                ) from exc
    for name, value in params.items():
        if "\x00" in value or not _utf8(value):
            raise InvalidRequest(f"parameter {name[:40]!r} is not valid text", field=name)
    return params


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(slots=True)
class Call:
    """One authenticated command call: its parameters, caller and runtime."""

    request: Request
    params: dict[str, str]
    principal: Principal
    rt: Runtime

    @property
    def account_id(self) -> int:
        assert self.principal.account_id is not None
        return self.principal.account_id

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise InvalidRequest(f"parameter {name} is required", field=name)
        return value

    def integer(
        self, name: str, default: int | None = None, *, low: int = 0, high: int = 2**31 - 1
    ) -> int:
        value = self.get(name)
        if value is None:
            if default is None:
                raise InvalidRequest(f"parameter {name} is required", field=name)
            return default
        text = value.strip()
        whole = text.isascii() and text.isdigit() and len(text) <= 19
        if not whole or not low <= int(text) <= high:
            raise InvalidRequest(
                f"parameter {name} must be a whole number from {low} to {high}, not {value[:40]!r}",
                field=name,
            )
        return int(text)

    def ident(self, name: str) -> int:
        return self.integer(name, low=1, high=2**63 - 1)

    def local_time(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.principal.timezone)).strftime(_PHP_TIME)

    async def read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.rt.db.read() as session:
                return work(session)

        return await run_in_threadpool(run)

    async def write(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.rt.db.write() as session:
                return work(session)

        return await run_in_threadpool(run)


def command(*names: str) -> Callable[[Handler], Handler]:
    def register_names(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name.lower()] = handler
        return handler

    return register_names


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


async def dispatch(command_name: str, request: Request) -> Response:
    handler = COMMANDS.get(command_name.lower())
    if handler is None:
        raise NotFound(f"unknown command {command_name[:60]!r}", code="unknown_command")
    rt = runtime(request)
    params = await read_params(request)
    principal = await authenticate_async(request, params.get("token") or bearer(request))
    if principal.account_id is None:
        raise Forbidden("this API needs a customer token", code="customer_only")
    wait = _limiter(request, rt.settings.smsby_per_minute).hit(principal.token_id)
    if wait is not None:
        raise RateLimited(
            f"Request limit exceeded: at most {rt.settings.smsby_per_minute} requests a minute",
            retry_after=max(1, math.ceil(wait)),
        )
    try:
        return await handler(Call(request, params, principal, rt))
    except SmsgateError as exc:
        raise translate(exc, rt.settings.max_parts) from exc
