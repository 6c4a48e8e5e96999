"""``smsgate users create|invite`` through the real console script."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from smsgate.dashboard.users import create_user, find_by_email, open_invitation, verify_password
from smsgate.db import Database
from tests.support.factories import make_customer, make_plan
from tests.test_cli import run


def test_users_create_for_an_account_and_an_operator(
    db_url: str, db: Database, plan: str, tmp_path: Path
) -> None:
    account = make_customer(db).account_id
    made = run(
        db_url, tmp_path, f"users create --account {account} --email Ann@example.com "
        "--password 'secret pass' --locale ru --json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert (out["email"], out["account_id"], out["locale"], out["operator"]) == (
        "ann@example.com", account, "ru", False,
    )  # fmt: skip
    operator = run(
        db_url, tmp_path, "users create --operator --email op@example.com --password 'op secret 1'"
    )
    assert operator.returncode == 0 and "operator" in operator.stdout
    with db.write() as session:
        assert verify_password(session, "ann@example.com", "secret pass") is not None
        op = find_by_email(session, "op@example.com")
        assert op is not None and op.is_operator and op.account_id is None


def test_users_create_refusals(tmp_path: Path, sqlite_template: Path) -> None:
    """SQLite only: the refusals do not depend on the engine."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    shutil.copyfile(sqlite_template, tmp_path / "cli.db")
    db = Database(url)
    make_plan(db)
    account = make_customer(db).account_id
    with db.write() as session:
        create_user(session, "ann@example.com", "secret pass", account_id=account)
    db.dispose()
    for args, why in (
        (f"--account {account} --operator --email x@example.com --password 'long enough'",
         "either --account ID or --operator"),
        (f"--account {account} --email ANN@example.com --password 'long enough'",
         "already exists"),
    ):  # fmt: skip
        failed = run(url, tmp_path, "users create " + args)
        assert failed.returncode == 1 and why in failed.stderr, (args, failed.stderr)


def test_users_invite_prints_the_link(db_url: str, db: Database, plan: str, tmp_path: Path) -> None:
    account = make_customer(db).account_id
    done = run(
        db_url, tmp_path, f"users invite --account {account} --email new@example.com "
        "--base-url https://sms.example.com/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("https://sms.example.com/app/invite/")
    with db.read() as session:
        assert open_invitation(session, link.rsplit("/", 1)[1]).email == "new@example.com"
