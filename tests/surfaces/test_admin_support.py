"""Helpers shared by the admin API tests (no tests here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from smsgate.accounts.models import TokenScope
from smsgate.accounts.service import create_token
from smsgate.audit.models import AuditEntry
from smsgate.db import Database


@dataclass(frozen=True, slots=True)
class Op:
    token_id: int
    headers: dict[str, str]

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}"


def make_operator(db: Database) -> Op:
    with db.write() as session:
        row, token = create_token(session, None, scope=TokenScope.OPERATOR, name="tests")
    return Op(row.id, {"Authorization": f"Bearer {token}"})


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["code"] == code and body["status"] == status and body["detail"], body
    return body


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def audit_entries(db: Database, action: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def assert_audited(db: Database, op: Op, action: str, target: str) -> AuditEntry:
    """The newest entry of ``action`` on ``target`` was made by ``op`` from the loopback."""
    entries = [e for e in audit_entries(db, action) if e.target == target]
    assert entries, f"no audit entry {action} on {target}"
    entry = entries[-1]
    assert entry.actor == op.actor
    assert entry.address == "127.0.0.1"
    assert entry.created_at is not None
    return entry
