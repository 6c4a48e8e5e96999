"""The dispatcher's hot statements, built once at import.

Every claim, submit record and receipt batch used to build its statements anew and run them
through the ORM session. Profiled end to end (docs/benchmarks.md), building them, computing
their cache keys and the ORM's bulk-update machinery cost more CPU than SQLite spent running
them. Built once, a statement's cache key is memoised and its compiled form cached, and run
on the session's connection it skips the ORM layer; the column types still convert every
value (UTC datetimes, money), so what is written is what the ORM would write.

IN lists are ``expanding`` parameters: one compiled statement serves every list length.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Table,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)

from smsgate.accounts.models import Account, AccountStatus
from smsgate.dispatch.models import EarlyReceipt
from smsgate.messaging.models import Sending, messages_table, parts_table
from smsgate.messaging.status import MessageStatus, SendingStatus

m = messages_table
p = parts_table
_accounts = cast(Table, Account.__table__)
_sendings = cast(Table, Sending.__table__)
early = cast(Table, EarlyReceipt.__table__)

DUE = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)


def _ids(name: str = "b_ids") -> BindParameter[Any]:
    return bindparam(name, expanding=True)


def _due(status: ColumnElement[str]) -> ScalarSelect[Any]:
    return (
        select(m.c.id)
        .where(
            m.c.next_attempt_at <= bindparam("b_now"),
            status.in_(DUE),
            m.c.valid_until >= bindparam("b_now"),
            or_(m.c.lease_until.is_(None), m.c.lease_until < bindparam("b_now")),
            # a suspended account's messages wait (and expire if it stays suspended)
            m.c.account_id.notin_(
                select(_accounts.c.id).where(_accounts.c.status == AccountStatus.SUSPENDED)
            ),
        )
        .order_by(m.c.next_attempt_at)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


_CLAIMED = {
    "status": MessageStatus.QUEUED,
    "lease_owner": bindparam("b_owner"),
    "lease_until": bindparam("b_until"),
    "attempts": m.c.attempts + 1,
    "updated_at": bindparam("b_now"),
}
_CLAIMED_COLUMNS = (
    m.c.id,
    m.c.msisdn,
    m.c.sender,
    m.c.text,
    m.c.parts,
    m.c.encoding,
    m.c.sending_id,
    m.c.created_at,
    m.c.attempts,
    m.c.valid_until,
    m.c.mcc,
    m.c.mnc,
    m.c.account_id,
    m.c.country,
    m.c.requested_type,
    m.c.request_id,
    m.c.surface,
    m.c.callback_url,
)
# SQLite chose ix_messages_status for ``status IN (...)`` and sorted every due message
# for the ORDER BY (EXPLAIN QUERY PLAN: "USE TEMP B-TREE FOR ORDER BY"), so a claim cost
# the whole backlog of a large sending. ``status || ''`` keeps that term off the index
# (SQLite's documented way), and the claim walks ix_messages_outbox in order up to LIMIT.
CLAIM = (
    update(m).where(m.c.id.in_(_due(m.c.status + ""))).values(_CLAIMED).returning(*_CLAIMED_COLUMNS)
)
# PostgreSQL planned ``id IN (subquery)`` as a hash join over a sequential scan of every
# message (EXPLAIN: 20 ms for a 20,000-row table, growing with it), since it expects the
# LIMIT's full 500 rows. ``id = ANY(ARRAY(subquery))`` runs the locking subquery once and
# updates through the primary key: 3 ms, whatever the table's size.
CLAIM_PG = (
    update(m)
    .where(m.c.id == any_(func.array(_due(m.c.status))))
    .values(_CLAIMED)
    .returning(*_CLAIMED_COLUMNS)
)

SENDINGS_PROCESSING = (
    update(_sendings)
    .where(
        _sendings.c.id.in_(_ids()),
        _sendings.c.status.in_([SendingStatus.SCHEDULED, SendingStatus.QUEUED]),
    )
    .values(status=SendingStatus.PROCESSING, updated_at=bindparam("b_now"))
)

MARK_SUBMITTED = (
    update(m)
    .where(
        m.c.id.in_(_ids()),
        m.c.lease_owner == bindparam("b_owner"),
        m.c.status == MessageStatus.QUEUED,
    )
    .values(
        status=MessageStatus.SUBMITTED,
        connector=bindparam("b_connector"),
        submitted_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        next_attempt_at=None,
        lease_owner=None,
        lease_until=None,
    )
    .returning(m.c.id)
)

RETRY_LATER = (
    update(m)
    .where(m.c.id == bindparam("b_id"), m.c.lease_owner == bindparam("b_owner"))
    .values(
        next_attempt_at=bindparam("b_next"),
        error_code=bindparam("b_error"),
        lease_owner=None,
        lease_until=None,
        updated_at=bindparam("b_now"),
    )
)

STILL_MINE = select(m.c.id).where(m.c.id.in_(_ids()), m.c.lease_owner == bindparam("b_owner"))

SET_COST = update(m).where(m.c.id == bindparam("b_id")).values(cost=bindparam("b_cost"))

EARLY_FOR = select(
    early.c.id,
    early.c.connector,
    early.c.upstream_id,
    early.c.status,
    early.c.error_code,
    early.c.received_at,
).where(early.c.connector == bindparam("b_connector"), early.c.upstream_id.in_(_ids("b_uids")))

EARLY_MATCHED = (
    select(
        early.c.id,
        early.c.connector,
        early.c.upstream_id,
        early.c.status,
        early.c.error_code,
        early.c.received_at,
    )
    .join(p, (p.c.connector == early.c.connector) & (p.c.upstream_id == early.c.upstream_id))
    .limit(bindparam("b_limit"))
)

DELETE_EARLY = delete(early).where(early.c.id.in_(_ids()))

PARTS_BY_UPSTREAM = select(p.c.message_id, p.c.part_no, p.c.upstream_id).where(
    p.c.connector == bindparam("b_connector"), p.c.upstream_id.in_(_ids("b_uids"))
)

APPLY_TO_PART = (
    update(p)
    .where(
        p.c.message_id == bindparam("b_mid"),
        p.c.part_no == bindparam("b_no"),
        p.c.status == MessageStatus.SUBMITTED,  # a duplicate receipt changes nothing
    )
    .values(
        status=bindparam("b_status"), error_code=bindparam("b_error"), updated_at=bindparam("b_now")
    )
)

PART_STATUSES = select(p.c.message_id, p.c.status, p.c.error_code).where(p.c.message_id.in_(_ids()))
