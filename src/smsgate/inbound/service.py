"""Store inbound messages, keep the opt-out lists, and read both for the API.

``record`` runs in the dispatcher's inbound batcher: one transaction per batch (group
commit, as receipts) that finds each destination's owner with one query, inserts the
messages with one statement, applies STOP/START in arrival order and queues the
``message.inbound`` webhooks.

Ownership: the account with an approved sender whose name is the MO destination (digits
compared without a leading '+'). No such account, or more than one, stores the message with
``account_id`` NULL and applies no keyword: an operator matter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from smsgate.connectors.base import InboundMessage
from smsgate.errors import InvalidRequest, NotFound
from smsgate.inbound.keywords import Keyword, Keywords
from smsgate.inbound.models import InboundMessageRow, OptOut, opt_outs_table
from smsgate.numbering import InvalidNumber, normalize
from smsgate.senders.models import Sender, SenderStatus
from smsgate.webhooks.events import InboundEvent, enqueue_inbound

log = structlog.get_logger(__name__)
_DIGITS = re.compile(r"^\+?\d{1,20}$")


def _key(address: str) -> str:
    """How a destination and a sender name are compared: digits without '+', else as is."""
    address = address.strip()
    return address.lstrip("+") if _DIGITS.match(address) else address


def owners(session: Session, destinations: set[str]) -> dict[str, int]:
    """destination key -> the one account with an approved sender of that name."""
    names = {_key(d) for d in destinations if d.strip()}
    if not names:
        return {}
    variants = names | {"+" + n for n in names if n.isdigit()}
    found: dict[str, set[int]] = {}
    for account_id, name in session.execute(
        select(Sender.account_id, Sender.name).where(
            Sender.status == SenderStatus.APPROVED, Sender.name.in_(variants)
        )
    ):
        found.setdefault(_key(name), set()).add(account_id)
    result: dict[str, int] = {}
    for name, accounts in found.items():
        if len(accounts) == 1:
            result[name] = next(iter(accounts))
        else:
            log.warning("inbound destination owned by several accounts", destination=name)
    return result


def _msisdn(source: str) -> str | None:
    """The sending number as sends name it (E.164 digits), or None for anything else."""
    source = source.strip()
    if not _DIGITS.match(source):
        return None
    return source.lstrip("+")


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    account_id: int | None
    keyword: Keyword | None


def record(
    session: Session, messages: Sequence[InboundMessage], keywords: Keywords, now: datetime
) -> list[Stored]:
    if not messages:
        return []
    owned = owners(session, {m.destination for m in messages})
    rows: list[dict[str, Any]] = []
    for m in messages:
        rows.append(
            {
                "account_id": owned.get(_key(m.destination)),
                "connector": m.connector[:64],
                "source": m.source.strip()[:32],
                "destination": m.destination.strip()[:32],
                "text": m.text,
                "received_at": m.received_at,
                "upstream_id": m.upstream_id[:64] if m.upstream_id else None,
            }
        )
    ids = (
        session.execute(
            insert(InboundMessageRow).returning(InboundMessageRow.id, sort_by_parameter_order=True),
            rows,
        )
        .scalars()
        .all()
    )
    # STOP and START in arrival order: the last word of a number to an account wins.
    final: dict[tuple[int, str], tuple[Keyword, str]] = {}
    stored: list[Stored] = []
    events: list[InboundEvent] = []
    for m, row, row_id in zip(messages, rows, ids, strict=True):
        account_id = row["account_id"]
        kind: Keyword | None = None
        if account_id is not None:
            hit = keywords.classify(m.text)
            msisdn = _msisdn(m.source)
            if hit is not None and msisdn is not None:
                kind = hit[0]
                final[(account_id, msisdn)] = hit
            events.append(
                InboundEvent(
                    row_id,
                    account_id,
                    row["source"],
                    row["destination"],
                    m.text,
                    kind.value if kind else None,
                    m.received_at,
                )
            )
        stored.append(Stored(row_id, account_id, kind))
    outs = {k: word for k, (kind, word) in final.items() if kind is Keyword.OPT_OUT}
    ins = [k for k, (kind, _) in final.items() if kind is Keyword.OPT_IN]
    if ins:
        session.execute(delete(OptOut).where(tuple_(OptOut.account_id, OptOut.msisdn).in_(ins)))
    if outs:
        _insert_opt_outs(
            session,
            [
                {"account_id": a, "msisdn": n, "keyword": word, "created_at": now}
                for (a, n), word in outs.items()
            ],
        )
    enqueue_inbound(session, events, now)
    return stored


def _insert_opt_outs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert, keeping the existing row of a number already opted out (first STOP wins)."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(opt_outs_table).on_conflict_do_nothing(
            index_elements=["account_id", "msisdn"]
        )
    else:
        stmt = sqlite.insert(opt_outs_table).on_conflict_do_nothing(
            index_elements=["account_id", "msisdn"]
        )
    session.execute(stmt, rows)


# --- the API's side ----------------------------------------------------------------------


def list_inbound(
    session: Session, account_id: int, *, limit: int, before_id: int | None
) -> list[InboundMessageRow]:
    query = select(InboundMessageRow).where(InboundMessageRow.account_id == account_id)
    if before_id is not None:
        query = query.where(InboundMessageRow.id < before_id)
    return list(session.scalars(query.order_by(InboundMessageRow.id.desc()).limit(limit)))


def list_opt_outs(session: Session, account_id: int) -> list[OptOut]:
    return list(
        session.scalars(
            select(OptOut).where(OptOut.account_id == account_id).order_by(OptOut.msisdn)
        )
    )


def _number(raw: str) -> str:
    try:
        return normalize(raw)
    except InvalidNumber:
        raise InvalidRequest(
            f"not a valid phone number: {raw[:30]!r}", field="msisdn", code="invalid_number"
        ) from None


def add_opt_out(session: Session, account_id: int, raw: str, now: datetime) -> OptOut:
    """Opt a number out by hand (keyword ``api``); an existing entry is kept as it is."""
    msisdn = _number(raw)
    _insert_opt_outs(
        session, [{"account_id": account_id, "msisdn": msisdn, "keyword": "api", "created_at": now}]
    )
    row = session.scalars(
        select(OptOut).where(OptOut.account_id == account_id, OptOut.msisdn == msisdn)
    ).one()
    return row


def remove_opt_out(session: Session, account_id: int, raw: str) -> None:
    digits = raw.strip().lstrip("+")
    msisdn = digits if digits.isdigit() else _number(raw)
    result = session.execute(
        delete(OptOut).where(OptOut.account_id == account_id, OptOut.msisdn == msisdn)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"+{msisdn} is not on the opt-out list", code="opt_out_not_found")
