"""Dashboard users, invitations and sessions through their services (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smsgate.dashboard import sessions, users
from smsgate.dashboard.models import DashboardUser
from smsgate.db import Database
from smsgate.errors import SmsgateError
from smsgate.kit.time import utcnow
from tests.support.factories import make_customer

PASSWORD = "a long password"


def test_users_belong_to_one_account_or_are_operators(db: Database, plan: str) -> None:
    account = make_customer(db).account_id
    with db.write() as session:
        customer = users.create_user(session, " Ann@Example.COM ", PASSWORD, account_id=account)
        operator = users.create_user(
            session, "op@example.com", PASSWORD, operator=True, locale="ru"
        )
        assert customer.email == "ann@example.com" and customer.locale == "en"
        assert (
            customer.password_hash.startswith("$argon2id$")
            and PASSWORD not in customer.password_hash
        )
        assert operator.account_id is None and operator.is_operator and operator.locale == "ru"
    base = {"email": "x@example.com", "password": PASSWORD, "account_id": account}
    cases = [
        ({"account_id": None}, "invalid_user"),
        ({"operator": True}, "invalid_user"),
        ({"email": "not-an-email"}, "invalid_email"),
        ({"password": "short"}, "weak_password"),
        ({"email": "ANN@example.com"}, "email_taken"),
        ({"locale": "de"}, "invalid_locale"),
        ({"account_id": 999}, "account_not_found"),
    ]
    for kwargs, code in cases:
        with pytest.raises(SmsgateError) as caught, db.write() as session:
            users.create_user(session, **(base | kwargs))
        assert caught.value.code == code, kwargs


def test_verify_password(db: Database, plan: str) -> None:
    account = make_customer(db).account_id
    with db.write() as session:
        users.create_user(session, "ann@example.com", PASSWORD, account_id=account)
    with db.read() as session:
        assert users.verify_password(session, "ann@example.com", "wrong") is None
        assert users.verify_password(session, "nobody@example.com", PASSWORD) is None
        found = users.verify_password(session, "ANN@example.com ", PASSWORD)
        assert found is not None and found.last_signin_at is None
    with db.write() as session:
        users.record_signin(session, found.id, PASSWORD)
    with db.read() as session:
        again = users.find_by_email(session, "ann@example.com")
        assert again is not None and again.last_signin_at is not None


def test_invitations_are_single_use_and_expire(db: Database, plan: str) -> None:
    account = make_customer(db).account_id
    with db.write() as session:
        link = users.invite(session, account, "new@example.com")
        old = users.invite(session, account, "late@example.com", now=utcnow() - timedelta(days=4))
        assert link.path == "/app/invite/" + link.token and len(link.token) >= 40
    with db.write() as session:
        user = users.accept_invitation(session, link.token, PASSWORD, locale="ru")
        assert (user.email, user.account_id, user.locale) == ("new@example.com", account, "ru")
    for token in (link.token, old.token, "made-up"):
        with pytest.raises(SmsgateError) as caught, db.write() as session:
            users.accept_invitation(session, token, PASSWORD)
        assert caught.value.code == "invitation_not_found"
    with pytest.raises(SmsgateError) as caught, db.write() as session:
        users.invite(session, account, "new@example.com")
    assert caught.value.code == "email_taken"


def test_sessions_end_when_idle_too_old_or_closed(db: Database, plan: str) -> None:
    account = make_customer(db).account_id
    life = sessions.Lifetime.of(600, 3600)
    t0 = utcnow()
    with db.write() as session:
        user = users.create_user(session, "ann@example.com", PASSWORD, account_id=account)
        first = sessions.open_session(session, user, life, t0, address="127.0.0.1")
        second = sessions.open_session(session, user, life, t0)
    with db.write() as session:
        found = sessions.find_session(session, first, life, t0 + timedelta(seconds=599))
        assert found is not None
        viewer = sessions.viewer_of(*found)
        assert viewer.account_id == account and viewer.csrf_token and not viewer.is_operator
        assert sessions.find_session(session, first, life, t0 + timedelta(seconds=601)) is None
        sessions.touch(session, found[0].id, t0 + timedelta(seconds=500))
        assert sessions.find_session(session, first, life, t0 + timedelta(seconds=1000))
        assert sessions.find_session(session, first, life, t0 + timedelta(seconds=3600)) is None
        assert sessions.find_session(session, "made-up", life, t0) is None
        assert len(sessions.list_sessions(session, user.id, life, t0)) == 2
        sessions.close_session(session, first)
        assert sessions.find_session(session, first, life, t0) is None
        assert sessions.find_session(session, second, life, t0) is not None
        assert sessions.close_all(session, user.id) == 1
        assert sessions.find_session(session, second, life, t0) is None


def test_a_user_ends_only_their_own_sessions(db: Database, plan: str) -> None:
    account = make_customer(db).account_id
    life, now = sessions.Lifetime.of(600, 3600), utcnow()
    with db.write() as session:
        ann = users.create_user(session, "ann@example.com", PASSWORD, account_id=account)
        bob = users.create_user(session, "bob@example.com", PASSWORD, account_id=account)
        secret = sessions.open_session(session, ann, life, now)
        found = sessions.find_session(session, secret, life, now)
        assert found is not None
        with pytest.raises(SmsgateError):
            sessions.close_other(session, bob.id, found[0].id)
        assert sessions.find_session(session, secret, life, now) is not None
        assert session.get(DashboardUser, ann.id) is not None
