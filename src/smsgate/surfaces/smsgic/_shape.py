"""SMSgic's JSON: Laravel's error bodies, its encoding, its money and time formats.

Every answer of the surface, success or error, is written by ``encode``; every error leaves
as a ``SmsgicError`` (already in SMSgic's shape) or is translated from the core's
``SmsgateError`` by ``render`` (registered for the surface's paths in ``__init__``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec
from starlette.responses import Response

from smsgate.errors import SmsgateError, TooManyRequests, retry_headers
from smsgate.kit.money import format_amount, round_money
from smsgate.messaging.status import SendingStatus

GIVEN_DATA_INVALID = "The given data was invalid."
UNAUTHENTICATED = "Unauthenticated."
TOO_MANY = "Too Many Attempts."  # Laravel's throttle

# The only place canonical sending statuses meet SMSgic's names (BRIEF.md).
STATUSES: dict[str, str] = {
    SendingStatus.DRAFT: "Draft",
    SendingStatus.SCHEDULED: "Pending",
    SendingStatus.QUEUED: "Pending",
    SendingStatus.PROCESSING: "Processing",
    SendingStatus.COMPLETED: "Completed",
    SendingStatus.CANCELLED: "Cancelled",
}

# `sign` of GET /balance; any other currency shows its ISO code.
SIGNS: dict[str, str] = {
    "GBP": "£",
    "EUR": "€",
    "USD": "$",
    "RUB": "₽",
    "UAH": "₴",
    "KZT": "₸",
    "BYN": "Br",
    "PLN": "zł",
    "INR": "₹",
    "TRY": "₺",
    "JPY": "¥",
}

# The core names the text and the numbers `text` and `to`; SMSgic says `message` and
# `recipients`.
_FIELDS = {"text": "message", "to": "recipients"}

# Money goes out as JSON numbers with their exact decimal digits: msgspec writes a Decimal
# as its digits, never through a float.
_encoder = msgspec.json.Encoder(decimal_format="number")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class SmsgicError(SmsgateError):
    """An answer already in SMSgic's shape: a status, a body, maybe headers."""

    code = "smsgic"

    def __init__(
        self, status: int, body: dict[str, object], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(str(body.get("message", "")))
        self.status = status
        self.body = body
        self.headers = headers


def invalid(errors: dict[str, list[str]], message: str | None = None) -> SmsgicError:
    """Laravel's 422. As in the seed's calculate: the error itself when there is one,
    "The given data was invalid." when there are more."""
    if message is None:
        every = [text for texts in errors.values() for text in texts]
        message = every[0] if len(every) == 1 else GIVEN_DATA_INVALID
    return SmsgicError(422, {"message": message, "errors": errors})


def sentence(text: str) -> str:
    """The core's "the account is suspended" as Laravel's "The account is suspended."."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def translate(exc: SmsgateError, key: str | None = None) -> SmsgicError:
    """The core's error in SMSgic's shape; ``key`` puts a 422 under that one field."""
    if isinstance(exc, SmsgicError):
        return exc
    text = sentence(exc.message)
    if exc.status == 401:
        return SmsgicError(401, {"message": UNAUTHENTICATED})
    if exc.code == "body_too_large":
        return SmsgicError(413, {"message": text})
    if isinstance(exc, TooManyRequests):
        return SmsgicError(429, {"message": TOO_MANY}, retry_headers(exc))
    if exc.status in (400, 402, 422):
        # 402 (the balance cannot cover the send) is a 422 too: SMSgic documents no other
        # client-error code and Laravel validates the balance like any other input.
        field = key or _FIELDS.get(exc.field or "", exc.field or "message")
        return invalid({field: [text]})
    if exc.status >= 500:
        headers = retry_headers(exc)
        # Laravel with debug off hides an internal error behind "Server Error".
        message = text if exc.status == 503 else "Server Error"
        return SmsgicError(exc.status, {"message": message}, headers)
    return SmsgicError(exc.status, {"message": text})


def encode(body: object) -> bytes:
    """JSON as Laravel's ``JsonResponse`` writes it: ``/`` as ``\\/``, non-ASCII as
    ``\\uXXXX`` (both can only occur inside strings, so the rewrite is safe)."""
    raw = _encoder.encode(body)
    if not raw.isascii():
        raw = _NON_ASCII.sub(_escape, raw.decode()).encode("ascii")
    return raw.replace(b"/", b"\\/")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # a UTF-16 surrogate pair, as PHP writes it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def answer(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        encode(body), status_code=status, headers=headers, media_type="application/json"
    )


def render(exc: SmsgateError) -> Response:
    error = translate(exc)
    return answer(error.body, error.status, error.headers)


def number(amount: Decimal) -> Decimal:
    """An amount for a JSON number: exact, trailing zeros dropped, never an exponent."""
    return Decimal(format_amount(amount, min_places=0))


def balance_text(amount: Decimal) -> str:
    """SMSgic's balance string, three decimals ("450.000")."""
    return f"{round_money(amount, 3) + 0:.3f}"


def timestamp(at: datetime) -> str:
    """``created_at``/``updated_at``: UTC as Laravel's Carbon writes it. Whole seconds, as
    SMSgic's database keeps them (``.000000Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def local_time(at: datetime, zone: str) -> str:
    """``scheduled_at``: ``Y-m-d H:i:s`` in the account's time zone."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
