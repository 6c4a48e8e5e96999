from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smsgate.audit.models import AuditEntry

TARGET_LENGTH = 100  # audit_log.target is String(100)


def record(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    *,
    address: str = "",
    **details: object,
) -> AuditEntry:
    """Add an audit entry in the caller's transaction (so it exists iff the action does)."""
    if len(target) > TARGET_LENGTH:
        # "plan:" + a 100-character plan name: the column keeps the start, details the whole.
        details = {"target": target, **details}
        target = target[: TARGET_LENGTH - 1] + "…"
    entry = AuditEntry(
        actor=actor,
        action=action,
        target=target,
        address=address,
        details=json.dumps(details, default=str, ensure_ascii=False) if details else "",
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    session: Session,
    *,
    limit: int = 100,
    before_id: int | None = None,
    since: datetime | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
