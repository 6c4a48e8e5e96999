"""The dashboard's part of the isolation sweep's world: signed-in browsers ("seats") for
customer A, customer B, a suspended account and the operator, and what B has that only the
dashboard makes (an upload, an invitation, a browser session).

Users and sessions are made by the dashboard's own services (``users.create_user``,
``sessions.open_session``, ``sessions.close_session`` for a signed-out one), as sign-in makes
them without the deliberately slow password check; B's upload is read by ``uploads.process``
as the page's background task reads it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from smsgate.accounts import admin
from smsgate.audit.models import AuditEntry
from smsgate.config import Settings
from smsgate.dashboard import uploads, users
from smsgate.dashboard.models import DashboardSession, DashboardUser
from smsgate.dashboard.sessions import Lifetime, close_session, find_session, open_session
from smsgate.db import Database
from smsgate.kit.time import utcnow
from tests.hardening.isolation_world import B_NUMBERS, World, snapshot
from tests.support.factories import make_customer

PASSWORD = "isolation sweep password"
B_EMAIL = "beta-user@beta.example"
B_INVITEE = "beta-invitee@beta.example"
B_BROWSER = "beta-browser/7.7"
B_UPLOAD = "beta-recipients.csv"


@dataclass(frozen=True, slots=True)
class Seat:
    """A signed-in browser: its session cookie and the session's CSRF token."""

    cookie: str
    csrf: str


@dataclass(frozen=True, slots=True)
class Desk:
    """The sweep's world with the dashboard's seats and B's dashboard-only ids."""

    world: World
    a: Seat  # A's user: every call of A's unless the call names another seat
    a_second: Seat  # another session of A's user: the one that signs out
    a2: Seat  # A's second user: the one that signs out everywhere
    a_signed_out: Seat  # a session of A's user that has signed out
    a_users: frozenset[int]  # A's users' ids: their sessions and audit entries are A's
    b: Seat  # B's user (its CSRF token is tried with A's cookie)
    b_session_id: int
    b_upload_id: int
    b_invitation: str  # the secret of an open invitation to B's account
    suspended: Seat  # the user of a suspended account
    operator: Seat

    @property
    def markers(self) -> tuple[str, ...]:
        """B's strings that no dashboard answer to anyone else may contain."""
        return (*self.world.b.markers, B_EMAIL, B_INVITEE, B_BROWSER, B_UPLOAD)


def build_desk(db: Database, settings: Settings, world: World) -> Desk:
    lifetime = Lifetime.of(
        settings.dashboard_session_idle_seconds, settings.dashboard_session_max_seconds
    )
    d = make_customer(db, sender="DELTA", name="Delta")
    with db.write() as session:
        a = users.create_user(
            session, "alpha-user@alpha.example", PASSWORD, account_id=world.a.account_id
        )
        a2 = users.create_user(
            session, "alpha-two@alpha.example", PASSWORD, account_id=world.a.account_id
        )
        b = users.create_user(session, B_EMAIL, PASSWORD, account_id=world.b.account_id)
        suspended = users.create_user(
            session, "delta-user@delta.example", PASSWORD, account_id=d.account_id
        )
        operator = users.create_user(session, "ops@operator.example", PASSWORD, operator=True)
        admin.suspend(session, d.account_id, actor="tests")
        invitation = users.invite(session, world.b.account_id, B_INVITEE)
        upload_id = uploads.start(session, world.b.account_id, B_UPLOAD)

        def seat(user: DashboardUser, **where: str) -> Seat:
            secret = open_session(session, user, lifetime, utcnow(), **where)
            found = find_session(session, secret, lifetime, utcnow())
            assert found is not None
            return Seat(secret, found[0].csrf_token)

        seats = {
            "a": seat(a),
            "a_second": seat(a),
            "a2": seat(a2),
            "a_signed_out": seat(a),
            "b": seat(b, address="198.51.100.7", user_agent=B_BROWSER),
            "suspended": seat(suspended),
            "operator": seat(operator),
        }
        close_session(session, seats["a_signed_out"].cookie)
        b_session_id = session.scalars(
            select(DashboardSession.id).where(DashboardSession.user_id == b.id)
        ).one()
        a_users = frozenset({a.id, a2.id})
    _read_upload(db, settings, world.b.account_id, upload_id)
    return Desk(
        world=world,
        a_users=a_users,
        b_session_id=b_session_id,
        b_upload_id=upload_id,
        b_invitation=invitation.token,
        **seats,
    )


def _read_upload(db: Database, settings: Settings, account_id: int, upload_id: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as out:
        out.write("phone\n" + "\n".join(B_NUMBERS) + "\n")
    uploads.process(db, upload_id, Path(out.name), settings.max_recipients)
    with db.read() as session:
        row = uploads.get_upload(session, account_id, upload_id)
        assert row.status == "ready" and row.valid == len(B_NUMBERS), row.error


def dashboard_snapshot(db: Database, desk: Desk) -> dict[str, list[tuple[Any, ...]]]:
    """``snapshot`` of every row not A's, where A's also are the sessions of A's users and
    the audit entries they made; ``last_seen_at`` is written by any session's use (as
    ``api_tokens.last_used_at`` by any token's) and left out."""
    tables = snapshot(db, desk.world.a.account_id)
    actors = [f"user:{user_id}" for user_id in sorted(desk.a_users)]
    sessions, audit = DashboardSession.__table__, AuditEntry.__table__
    with db.read() as session:
        columns = [c for c in sessions.columns if c.name != "last_seen_at"]
        rows = session.execute(
            select(*columns).where(sessions.c.user_id.not_in(desk.a_users)).order_by(sessions.c.id)
        ).all()
        tables["dashboard_sessions"] = [tuple(r) for r in rows]
        rows = session.execute(
            select(audit).where(audit.c.actor.not_in(actors)).order_by(audit.c.id)
        ).all()
        tables["audit_log"] = [tuple(r) for r in rows]
    return tables
