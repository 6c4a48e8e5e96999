"""What the four seed upstreams (SMSgic, devsms.uz, sms.by, Eskiz) share.

- **URLs.** ``base_url`` is the provider's origin (``https://api.smsgic.com``,
  ``https://devsms.uz``, ``https://app.sms.by``, ``https://notify.eskiz.uz``); each provider
  appends its documented path. A base URL that already ends in the provider's API prefix
  (``/api``, ``/api/v1``) is accepted as well.
- **Failures of the connector, not of the message.** Refused credentials, an empty balance
  at the upstream or a URL that does not exist affect every message alike: the message is
  given back as TRANSIENT (it is tried again, by another connector if a route offers one)
  and the connector marks itself unhealthy with ``last_error``, so that routing fails over.
  Every ``health_interval`` seconds (30) an unhealthy connector asks the upstream's balance
  with its credentials; when that works and the balance is not zero it is healthy again.
- **Polling.** ``poll`` asks the status of each pending upstream id, at most ``poll_batch``
  (100) per round, taking turns through a longer backlog, 8 requests at a time.
- **Callbacks** are read from a JSON object, an urlencoded or a multipart form, plus the
  query string (``fields_of``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import structlog

from smsgate.connectors.base import OutboundMessage, Outcome, Receipt, ReceiptSink, SubmitResult
from smsgate.connectors.http.base import HttpProvider
from smsgate.connectors.http.base import json_object as json_object
from smsgate.kit.time import utcnow
from smsgate.messaging.status import MessageStatus

log = structlog.get_logger(__name__)

# Final statuses in the words the seed providers (and SMPP receipts behind them) use;
# anything else (waiting, NEW, SENT, ACCEPTED, ACCEPTD, submitted, partdelivered...) is not
# final yet. Matched without regard to case.
FINAL_WORDS: dict[str, MessageStatus] = {
    "DELIVRD": MessageStatus.DELIVERED,
    "DELIVERED": MessageStatus.DELIVERED,
    "UNDELIV": MessageStatus.UNDELIVERABLE,
    "UNDELIVERED": MessageStatus.UNDELIVERABLE,
    "UNDELIVERABLE": MessageStatus.UNDELIVERABLE,
    "EXPIRED": MessageStatus.UNDELIVERABLE,
    "DELETED": MessageStatus.UNDELIVERABLE,
    "UNKNOWN": MessageStatus.UNDELIVERABLE,
    "FAILED": MessageStatus.UNDELIVERABLE,
    "REJECTD": MessageStatus.REJECTED,
    "REJECTED": MessageStatus.REJECTED,
    "CANCELLED": MessageStatus.REJECTED,
    "CANCELED": MessageStatus.REJECTED,
}

MAX_CODE = 40  # the width of a message's error_code column
MAX_ID = 80  # the width of an upstream id column

# Words by which an error text says that the account at the upstream cannot pay
# (English, Uzbek, Russian).
BALANCE_WORDS = ("balance", "balans", "mablag", "баланс", "средств", "insufficient funds")
# Words by which an error text says that the credentials were refused.
AUTH_WORDS = ("unauthenticated", "unauthorized", "token", "autentifikatsiya", "credentials")


class SeedProvider(HttpProvider):
    api_prefix: ClassVar[str] = ""
    poll_concurrency: ClassVar[int] = 8

    def __init__(self, name: str, options: Mapping[str, Any], secret: str = "") -> None:
        super().__init__(name, options, secret)
        if self.api_prefix and self.base_url.endswith(self.api_prefix):
            self.base_url = self.base_url[: -len(self.api_prefix)]
        if "poll_interval" in self.options:
            # per connector (0 turns polling off); the base class's poll loop reads it here
            value = float(self.options["poll_interval"] or 0)
            setattr(self, "poll_interval", value if value > 0 else None)  # noqa: B010
        self.poll_batch = int(self.options.get("poll_batch") or 100)
        self.health_interval = float(self.options.get("health_interval") or 30.0)
        self.sender = str(self.options.get("sender") or "")
        self._cursor = 0
        self._polls = asyncio.Semaphore(self.poll_concurrency)
        self._health: asyncio.Task[None] | None = None

    def url(self, path: str) -> str:
        return f"{self.base_url}{self.api_prefix}{path}"

    def sender_of(self, msg: OutboundMessage) -> str:
        return self.sender or msg.sender

    # --- life cycle -----------------------------------------------------------------------

    async def start(self, receipts: ReceiptSink) -> None:
        await super().start(receipts)
        self._health = asyncio.get_running_loop().create_task(self._health_loop())

    async def stop(self) -> None:
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health
        await super().stop()

    async def probe(self) -> bool:
        """True when the upstream takes the credentials and has money (see the module)."""
        return True

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            if self.healthy:
                continue
            try:
                ok = await self.probe()
            except httpx.HTTPError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                ok = False
            except Exception:
                log.exception("health probe failed", connector=self.name)
                ok = False
            if ok:
                self.healthy = True
                log.info("connector healthy again", connector=self.name)

    # --- outcomes -------------------------------------------------------------------------

    def out_of_service(self, msg: OutboundMessage, code: str, detail: str) -> SubmitResult:
        """The connector cannot send anything now: TRANSIENT, and unhealthy until a probe."""
        self.healthy = False
        self.last_error = detail
        log.warning("connector out of service", connector=self.name, error=detail)
        return SubmitResult(msg.id, Outcome.TRANSIENT, error_code=f"{self.kind}_{code}")

    def refused(
        self, msg: OutboundMessage, status: int, text: str, invalid: str = "invalid"
    ) -> SubmitResult:
        """Map an answer without an upstream id (``text`` is the upstream's error text)."""
        detail = f"{status} {text}".strip()[:500]
        lowered = text.lower()
        if status == 429:
            self.last_error = detail
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code=f"{self.kind}_throttled")
        if status >= 500:
            self.last_error = detail
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code=f"{self.kind}_http_{status}")
        if status in (401, 403) or any(w in lowered for w in AUTH_WORDS):
            return self.out_of_service(msg, "auth", detail)
        if status == 402 or any(w in lowered for w in BALANCE_WORDS):
            return self.out_of_service(msg, "balance", detail)
        if status in (404, 405):  # no such API at base_url: the configuration is wrong
            return self.out_of_service(msg, f"http_{status}", detail)
        self.last_error = detail
        if 200 <= status < 300 and not text:  # success without an id: an odd answer
            return SubmitResult(msg.id, Outcome.TRANSIENT, error_code=f"{self.kind}_bad_response")
        return SubmitResult(msg.id, Outcome.PERMANENT, error_code=f"{self.kind}_{invalid}")

    def receipt(self, upstream_id: str, word: str, error: str | None = None) -> Receipt | None:
        return receipt_for(self.name, self.kind, upstream_id, word, error)

    # --- polling --------------------------------------------------------------------------

    async def poll(self, upstream_ids: Sequence[str]) -> list[Receipt]:
        ids = list(upstream_ids)
        if len(ids) > self.poll_batch:
            start = self._cursor % len(ids)
            ids = (ids[start:] + ids[:start])[: self.poll_batch]
            self._cursor = start + self.poll_batch
        found = await asyncio.gather(*(self._status_guarded(i) for i in ids))
        return [r for r in found if r is not None]

    async def _status_guarded(self, upstream_id: str) -> Receipt | None:
        async with self._polls:
            try:
                return await self.status_of(upstream_id)
            except httpx.HTTPError as exc:  # asked again next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                return None

    async def status_of(self, upstream_id: str) -> Receipt | None:
        """The receipt for one upstream id, or None while it is not final."""
        return None

    def poll_refused(self, response: httpx.Response, text: str) -> None:
        """A status request was refused: credentials make the connector unhealthy."""
        self.last_error = f"{response.status_code} {text}".strip()[:500]
        if response.status_code in (401, 403) or any(w in text.lower() for w in AUTH_WORDS):
            self.healthy = False


def receipt_for(
    name: str, kind: str, upstream_id: str, word: str, error: str | None = None
) -> Receipt | None:
    """The receipt a final status word stands for, or None while it is not final; a
    failure's code is ``error`` or else ``<kind>_<word>`` (``eskiz_undeliv``)."""
    status = FINAL_WORDS.get(word.strip().upper())
    if status is None or not upstream_id or len(upstream_id) > MAX_ID:
        return None
    if status is MessageStatus.DELIVERED:
        return Receipt(name, upstream_id, status, None, utcnow())
    code = (error or f"{kind}_{word.strip().lower()}")[:MAX_CODE]
    return Receipt(name, upstream_id, status, code, utcnow())


def is_id(value: object) -> bool:
    """An upstream id as the providers write it: a number or a non-empty string."""
    return isinstance(value, int | str) and not isinstance(value, bool) and str(value) != ""


def text_of(value: object) -> str:
    """An error text from a str, or from Laravel's ``{"field": ["..."]}`` bag."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return " ".join(text_of(v) for v in value.values())
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return " ".join(text_of(v) for v in value)
    return "" if value is None else str(value)


def amount(value: object) -> Decimal | None:
    """A balance as the providers write it: 950, "450.000", "$0.079"; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip().lstrip("$£€").replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def has_money(value: object) -> bool:
    """False only for a balance known to be zero or less."""
    found = amount(value)
    return found is None or found > 0


def fields_of(body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """A callback's fields: the query string, overridden by a JSON object, an urlencoded or
    a multipart form body. Values are text (numbers as their digits)."""
    fields = {str(k): str(v) for k, v in query.items()}
    content_type = headers.get("content-type", "")
    raw = body.strip()
    if not raw:
        return fields
    if content_type.lower().startswith("multipart/form-data"):
        fields.update(_multipart(body, content_type))
        return fields
    if raw.startswith(b"{"):
        try:
            document = json.loads(raw)
        except ValueError:
            return fields
        if isinstance(document, dict):
            fields.update({str(k): _scalar(v) for k, v in document.items()})
        return fields
    with contextlib.suppress(UnicodeDecodeError):
        fields.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    return fields


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    parsed = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    fields: dict[str, str] = {}
    for part in parsed.walk():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode(part.get_content_charset() or "utf-8", "replace")
    return fields
