"""One request of each kind to every API surface, what an outage answer must look like,
and the books after an outage.

The fault suites (database faults, disk full) fire these while the database is away and
check each answer against its surface's own error shape: problem+json on ``/v1`` and
``/v1/admin``, Laravel's ``{"message"}`` on SMSgic, ``{"success": false, "error"}`` on
devsms.uz and ``{"error"}`` on sms.by, always with ``Retry-After``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from smsgate.accounts.models import TokenScope
from smsgate.accounts.service import create_token
from smsgate.billing import ledger
from smsgate.billing.models import EntryType, LedgerEntry
from smsgate.config import Settings
from smsgate.db import Database
from smsgate.messaging.models import Message
from smsgate.messaging.status import ALWAYS_REFUNDED, FINAL
from tests.support.factories import Customer, make_customer, make_plan
from tests.support.waiting import wait_for

# sms.by documents a single server error, "500 — Server is not available" (the seed's own
# words), so that surface says "unavailable" with 500; every other surface with 503.
OUTAGE_STATUS = {"native": 503, "admin": 503, "smsgic": 503, "devsms": 503, "smsby": 500}
OPENING = Decimal(100)
BEFORE = 40  # messages accepted just before a fault, many of them still in flight


@contextmanager
def served_logs() -> Iterator[None]:
    """Tracebacks rendered plain, as ``smsgate serve`` has them (``logs.configure``). The
    test default renders rich tracebacks with every frame's locals, which takes seconds per
    logged failure on the event loop while the database is away; a server never does that."""
    saved = structlog.get_config()
    plain = structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )
    structlog.configure(processors=[*saved["processors"][:-1], plain])
    try:
        yield
    finally:
        structlog.configure(**saved)


@dataclass(frozen=True, slots=True)
class Probe:
    surface: str
    method: str
    path: str
    json: dict[str, Any] | None = None
    writes: bool = False  # accepts a send or moves money: must not happen when refused
    operator: bool = False

    @property
    def name(self) -> str:
        return f"{self.surface} {self.method} {self.path}"


def probes(c: Customer, n: int = 0) -> list[Probe]:
    """A send (or top-up) and a read on every surface; ``n`` varies the numbers."""
    base = f"3712{n % 1000:03d}000"  # a Latvian mobile number without its last digit
    topups = f"/v1/admin/accounts/{c.account_id}/topups"
    return [
        Probe("native", "POST", "/v1/messages", _send("to", f"+{base}1", c), True),
        Probe("native", "GET", "/v1/balance"),
        Probe("smsgic", "POST", "/sendings", _send("recipients", [f"{base}2"], c), True),
        Probe("smsgic", "GET", "/balance"),
        Probe("devsms", "POST", "/api/send_sms.php", _send("phone", f"{base}3", c), True),
        Probe("devsms", "GET", "/api/get_balance.php"),
        Probe("smsby", "POST", "/api/v1/sendQuickSMS", {"message": "x", "phone": f"{base}4"}, True),
        Probe("smsby", "GET", "/api/v1/getBalance"),
        Probe("admin", "POST", topups, {"amount": "1", "reason": "probe"}, True, True),
        Probe("admin", "GET", "/v1/admin/accounts", operator=True),
    ]


def _send(field: str, to: object, c: Customer) -> dict[str, Any]:
    """A send body as the native, SMSgic and devsms.uz surfaces name its fields."""
    text, sender = ("message", "from") if field == "phone" else ("text", "sender")
    if field == "recipients":
        text = "message"
    return {field: to, text: "x", sender: c.sender}


def fire(
    base_url: str, batch: Sequence[Probe], customer: str, operator: str
) -> list[tuple[Probe, httpx.Response]]:
    """Every probe at once, as concurrent clients would."""
    limits = httpx.Limits(max_connections=len(batch))
    with (
        httpx.Client(base_url=base_url, timeout=60, limits=limits) as http,
        ThreadPoolExecutor(len(batch)) as pool,
    ):

        def one(probe: Probe) -> httpx.Response:
            token = operator if probe.operator else customer
            return http.request(
                probe.method,
                probe.path,
                json=probe.json,
                headers={"Authorization": f"Bearer {token}"},
            )

        return list(zip(batch, pool.map(one, batch), strict=True))


def succeeded(response: httpx.Response) -> bool:
    return response.status_code in (200, 201)


def check_outage(probe: Probe, response: httpx.Response, code: str = "unavailable") -> None:
    """The answer is the surface's own error shape with the outage status and Retry-After."""
    where = f"{probe.name}: {response.status_code} {response.text[:300]}"
    assert response.status_code == OUTAGE_STATUS[probe.surface], where
    assert int(response.headers["retry-after"]) >= 1, where
    body = response.json()
    if probe.surface in ("native", "admin"):
        assert response.headers["content-type"].startswith("application/problem+json"), where
        assert body["code"] == code and body["status"] == 503, where
        assert body["detail"], where
    elif probe.surface == "smsgic":
        assert list(body) == ["message"] and body["message"], where
    elif probe.surface == "devsms":
        assert body["success"] is False and body["error"], where
    else:
        assert list(body) == ["error"] and body["error"], where
    message = str(body.get("detail") or body.get("message") or body.get("error"))
    # the text says what happened, not "Server Error"
    wanted = "storage" if code == "storage_full" else "database"
    assert wanted in message.lower(), where


def pending(db: Database, account_id: int) -> int:
    """Messages of the account not yet final (0 when the database cannot answer yet)."""
    try:
        with db.read() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.account_id == account_id, Message.status.notin_(list(FINAL)))
                )
                or 0
            )
    except OperationalError:
        return -1


def check_books(
    db: Database, account_id: int, opening: Decimal, messages: int, topups: int
) -> None:
    """Exactly the answered sends and top-ups are in the database, every message is final,
    and the ledger balances: balance = sum of entries, charges = price of the messages,
    top-ups = what was answered, refunds only for refunded messages."""
    with db.read() as s:
        rows = s.execute(
            select(Message.status, Message.price, Message.refunded).where(
                Message.account_id == account_id
            )
        ).all()
        sums = dict(
            s.execute(
                select(LedgerEntry.entry_type, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.account_id == account_id)
                .group_by(LedgerEntry.entry_type)
            ).all()
        )
        balance = ledger.balance(s, account_id)
        assert balance == ledger.entries_total(s, account_id)
    assert len(rows) == messages, f"{len(rows)} messages stored, {messages} answered with success"
    assert all(status in FINAL for status, _, _ in rows)
    charged = sum((price for _, price, _ in rows), Decimal(0))
    refunded = sum((price for status, price, r in rows if r), Decimal(0))
    # refunds by the default policy: rejected (and cancelled) messages, undeliverable not
    assert all(r == (status in ALWAYS_REFUNDED) for status, _, r in rows), "a wrong refund"
    assert -Decimal(sums.get(EntryType.CHARGE, 0)) == charged
    assert Decimal(sums.get(EntryType.REFUND, 0)) == refunded
    assert Decimal(sums[EntryType.TOPUP]) == opening + topups
    assert balance == opening + topups - charged + refunded


@dataclass
class World:
    db: Database
    customer: Customer
    operator: str
    messages: int = 0  # answered with success, so stored
    topups: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, answers: list[tuple[Probe, httpx.Response]]) -> None:
        """Remember what was answered with success: exactly that must be stored."""
        with self._lock:
            for probe, response in answers:
                if succeeded(response) and probe.writes:
                    if probe.operator:
                        self.topups += 1
                    else:
                        self.messages += 1


@contextmanager
def world_on(url: str) -> Iterator[World]:
    """A price plan, a customer with an opening balance and an operator token."""
    db = Database(url)
    try:
        make_plan(db)
        customer = make_customer(db, balance=OPENING)
        with db.write() as session:
            _, operator = create_token(session, None, scope=TokenScope.OPERATOR, name="faults")
        yield World(db, customer, operator)
    finally:
        db.dispose()


def send_before(base: str, world: World) -> None:
    """Single sends, answered with success and so stored, just before the fault."""
    c = world.customer
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(BEFORE):
            answer = http.post(
                "/v1/messages",
                headers=c.headers,
                json={"to": f"+371260{n:05d}", "text": "before", "sender": c.sender},
            )
            assert answer.status_code == 200, answer.text
            world.messages += 1


class Traffic:
    """Rounds of probes on every surface, one round after another, from before a fault
    until after it: each answer must be a success or the surface's clean outage answer."""

    def __init__(self, base: str, world: World) -> None:
        self.base, self.world = base, world
        # (round begun, round answered, probe, answer)
        self.answers: list[tuple[float, float, Probe, httpx.Response]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        c, round_ = self.world.customer, 0
        while not self._stop.is_set():
            round_ += 1
            begun = time.monotonic()
            answered = fire(self.base, probes(c, round_), c.token, self.world.operator)
            self.world.count(answered)
            at = time.monotonic()
            self.answers += [(begun, at, probe, response) for probe, response in answered]

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def answered_since(self, since: float) -> list[tuple[Probe, httpx.Response]]:
        return [(p, r) for _, at, p, r in self.answers if at >= since]

    def recovered(self, since: float, timeout: float = 20) -> float:
        """Wait for a round begun after ``since`` and answered with success everywhere;
        returns the seconds from ``since`` to that answer."""

        def round_ok() -> float | None:
            rounds: dict[float, tuple[float, list[httpx.Response]]] = {}
            for begun, at, _, response in list(self.answers):
                rounds.setdefault(begun, (at, []))[1].append(response)
            ok = [
                at
                for begun, (at, rs) in rounds.items()
                if begun > since and all(map(succeeded, rs))
            ]
            return min(ok) - since if ok else None

        return wait_for(round_ok, timeout=timeout, interval=0.1)

    def check(self, code: str = "unavailable") -> None:
        for _, _, probe, response in self.answers:
            if not succeeded(response):
                check_outage(probe, response, code)


def settle(world: World) -> None:
    """Every message final, and the books exactly as the answers said."""
    wait_for(lambda: pending(world.db, world.customer.account_id) == 0, timeout=30, interval=0.2)
    check_books(world.db, world.customer.account_id, OPENING, world.messages, world.topups)


def fault_settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        demo=False,
        simulator_delay=0.05,
        dispatch_idle_seconds=0.02,
        dispatch_lease_seconds=5,  # a batch whose record failed is sent again after this
        retry_base_seconds=0.05,
        webhooks_idle_seconds=0.05,
        sqlite_busy_seconds=1.0,
    )
