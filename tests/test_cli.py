"""The operator CLI, driven through the real ``smsgate`` console script in a subprocess.

The flows that touch the database run on SQLite and PostgreSQL (``db_url``); the error
paths, ``db upgrade`` and ``serve --help`` run on SQLite only, to keep the file fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from smsgate.accounts.models import Account, TokenScope
from smsgate.accounts.service import authenticate, get_account, plan_by_name
from smsgate.billing.ledger import balance, entries_total, list_entries
from smsgate.db import Database
from smsgate.errors import Unauthenticated
from smsgate.pricing.models import PricePlan
from smsgate.pricing.service import list_rates
from smsgate.senders.models import SenderStatus
from smsgate.senders.service import list_senders

_BIN = Path(sys.executable).parent
SMSGATE = shutil.which("smsgate", path=str(_BIN)) or str(_BIN / "smsgate")

HEADER = "mcc,mnc,country,network,price\n"
FIRST_CARD = HEADER + "247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n257,,Belarus,,0.06\n"
SECOND_CARD = HEADER + "434,,Uzbekistan,,0.05\n434,04,Uzbekistan,Beeline,0.045\n"


def smsgate(
    url: str, *args: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env.update(SMSGATE_DATABASE_URL=url, NO_COLOR="1", COLUMNS="200", **(extra_env or {}))
    # cwd: a directory of the test's own, so no stray .env file is read
    return subprocess.run(
        [SMSGATE, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's contract for errors: exit 1, one line on stderr, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rates_of(db: Database, plan: str) -> list[tuple[str, str | None, str, str, Decimal]]:
    with db.read() as session:
        plan_id = plan_by_name(session, plan).id
        return [(r.mcc, r.mnc, r.country, r.network, r.price) for r in list_rates(session, plan_id)]


def plan_version(db: Database, plan: str) -> int:
    with db.read() as session:
        return plan_by_name(session, plan).version


# --------------------------------------------------------------- both databases


def test_plans_import_replaces_and_refuses_bad_rows(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    out = ok(
        smsgate(
            db_url,
            "plans",
            "import",
            "--name",
            "std",
            str(write(tmp_path / "first.csv", FIRST_CARD)),
            cwd=tmp_path,
        )
    )
    assert "3 rates imported" in out
    assert rates_of(db, "std") == [
        ("247", None, "Latvia", "", Decimal("0.04")),  # empty mnc: the country default
        ("247", "01", "Latvia", "LMT", Decimal("0.03")),
        ("257", None, "Belarus", "", Decimal("0.06")),
    ]

    # importing again replaces the plan's rates (none of the first card is left)
    ok(
        smsgate(
            db_url,
            "plans",
            "import",
            "--name",
            "std",
            str(write(tmp_path / "second.csv", SECOND_CARD)),
            cwd=tmp_path,
        )
    )
    after = rates_of(db, "std")
    assert after == [
        ("434", None, "Uzbekistan", "", Decimal("0.05")),
        ("434", "04", "Uzbekistan", "Beeline", Decimal("0.045")),
    ]
    version = plan_version(db, "std")

    bad_cards = {
        "bad_mcc": (HEADER + "434,,Uzbekistan,,0.05\n4x4,04,Uzbekistan,Beeline,0.04\n", "line 3"),
        "bad_price": (
            HEADER + "247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n257,,Belarus,,zero\n",
            "line 4",
        ),
        "duplicate": (HEADER + "247,,Latvia,,0.04\n247,,Latvia,,0.05\n", "line 3"),
    }
    for name, (card, where) in bad_cards.items():
        # the duplicate goes to a new plan name: the plan must not even be created
        target = "fresh" if name == "duplicate" else "std"
        result = smsgate(
            db_url,
            "plans",
            "import",
            "--name",
            target,
            str(write(tmp_path / f"{name}.csv", card)),
            cwd=tmp_path,
        )
        line = one_line_error(result)
        assert where in line, (name, line)
        assert result.stdout == ""
    assert rates_of(db, "std") == after
    assert plan_version(db, "std") == version
    with db.read() as session:
        assert session.scalar(select(PricePlan).where(PricePlan.name == "fresh")) is None


def test_accounts_tokens_and_senders(db_url: str, db: Database, plan: str, tmp_path: Path) -> None:
    created = json.loads(
        ok(
            smsgate(
                db_url,
                "accounts",
                "create",
                "--name",
                "Acme",
                "--currency",
                "EUR",
                "--balance",
                "10",
                "--plan",
                plan,
                "--tax-rate",
                "0.2",
                "--timezone",
                "Europe/Riga",
                "--json",
                cwd=tmp_path,
            )
        )
    )
    account_id, first_token = created["id"], created["token"]
    assert isinstance(account_id, int)
    assert first_token.startswith("sg_")
    assert created["balance"] == "10.00"
    with db.read() as session:
        account = get_account(session, account_id)
        assert (account.name, account.currency, account.timezone) == ("Acme", "EUR", "Europe/Riga")
        assert account.tax_rate == Decimal("0.2")
        assert account.price_plan_id == plan_by_name(session, plan).id
        assert balance(session, account_id) == entries_total(session, account_id) == Decimal(10)
        assert authenticate(session, first_token).account_id == account_id

    out = ok(
        smsgate(
            db_url, "accounts", "topup", "--account", str(account_id), "--amount", "5", cwd=tmp_path
        )
    )
    assert "15.00" in out
    with db.read() as session:
        assert balance(session, account_id) == Decimal(15)
        assert entries_total(session, account_id) == Decimal(15)
        entries = list_entries(session, account_id, limit=10)
        assert [e.amount for e in entries] == [Decimal(5), Decimal(10)]  # newest first
        assert entries[0].balance_after == Decimal(15)

    customer = json.loads(
        ok(
            smsgate(
                db_url, "tokens", "create", "--account", str(account_id), "--json", cwd=tmp_path
            )
        )
    )
    operator = json.loads(
        ok(smsgate(db_url, "tokens", "create", "--operator", "--json", cwd=tmp_path))
    )
    assert customer["account_id"] == account_id
    assert customer["scope"] == "customer"
    assert operator["account_id"] is None
    assert operator["scope"] == "operator"
    with db.read() as session:
        who = authenticate(session, customer["token"])
        assert (who.token_id, who.account_id, who.scope) == (
            customer["id"],
            account_id,
            TokenScope.CUSTOMER,
        )
        boss = authenticate(session, operator["token"])
        assert boss.is_operator
        assert boss.token_id == operator["id"]

    ok(smsgate(db_url, "tokens", "revoke", str(customer["id"]), cwd=tmp_path))
    with db.read() as session:
        with pytest.raises(Unauthenticated):
            authenticate(session, customer["token"])
        assert authenticate(session, first_token).account_id == account_id  # others still work

    acct = str(account_id)
    assert "pending" in ok(
        smsgate(db_url, "senders", "add", "--account", acct, "--name", "ACME", cwd=tmp_path)
    )
    assert "approved" in ok(
        smsgate(
            db_url,
            "senders",
            "add",
            "--account",
            acct,
            "--name",
            "Shop",
            "--approved",
            cwd=tmp_path,
        )
    )
    with db.read() as session:
        assert {s.name: s.status for s in list_senders(session, account_id)} == {
            "ACME": SenderStatus.PENDING,
            "Shop": SenderStatus.APPROVED,
        }
    assert "approved" in ok(
        smsgate(db_url, "senders", "approve", "--account", acct, "--name", "ACME", cwd=tmp_path)
    )
    with db.read() as session:
        assert [s.name for s in list_senders(session, account_id, approved_only=True)] == [
            "ACME",
            "Shop",
        ]


# --------------------------------------------------------------- SQLite only


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def _accounts(url: str) -> int:
    database = Database(url)
    try:
        with database.read() as session:
            return session.scalar(select(func.count()).select_from(Account)) or 0
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["accounts", "create", "--name", "X", "--plan", "nope"],
            "no price plan named 'nope'",
            id="unknown-plan",
        ),
        pytest.param(
            ["accounts", "create", "--name", "X", "--timezone", "Mars/Olympus"],
            "unknown time zone 'Mars/Olympus'",
            id="bad-timezone",
        ),
        pytest.param(
            ["accounts", "create", "--name", "X", "--balance", "ten"],
            "'ten' is not an amount",
            id="bad-amount",
        ),
        pytest.param(
            ["accounts", "topup", "--account", "424242", "--amount", "5"],
            "no account with id 424242",
            id="topup-unknown-account",
        ),
        pytest.param(
            ["tokens", "create", "--account", "424242"],
            "no account with id 424242",
            id="token-unknown-account",
        ),
        pytest.param(
            ["senders", "add", "--account", "424242", "--name", "ACME"],
            "no account with id 424242",
            id="sender-unknown-account",
        ),
        pytest.param(
            ["tokens", "revoke", "424242"],
            "no active token with id 424242",
            id="revoke-unknown-token",
        ),
    ],
)
def test_errors_are_one_clear_line(
    sqlite_url: str, tmp_path: Path, args: list[str], expected: str
) -> None:
    result = smsgate(sqlite_url, *args, cwd=tmp_path)
    assert expected in one_line_error(result)
    assert result.stdout == ""
    assert _accounts(sqlite_url) == 0


def test_rate_file_that_is_not_utf8(sqlite_url: str, tmp_path: Path) -> None:
    card = tmp_path / "latin1.csv"
    card.write_bytes((HEADER + "276,,Österreich,,0.05\n").encode("latin-1"))
    line = one_line_error(
        smsgate(sqlite_url, "plans", "import", "--name", "p", str(card), cwd=tmp_path)
    )
    assert "latin1.csv" in line
    assert "UTF-8" in line


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    line = one_line_error(
        smsgate(url, "accounts", "topup", "--account", "1", "--amount", "5", cwd=tmp_path)
    )
    assert "database" in line


def test_malformed_setting_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    line = one_line_error(
        smsgate(sqlite_url, "db", "upgrade", cwd=tmp_path, extra_env={"SMSGATE_PORT": "eighty"})
    )
    assert "SMSGATE_PORT" in line


def test_db_upgrade_creates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite:///{path}"
    assert "up to date" in ok(smsgate(url, "db", "upgrade", cwd=tmp_path))
    assert path.exists()
    database = Database(url)
    try:
        tables = set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
    assert {"alembic_version", "accounts", "api_tokens", "price_plans", "rates"} <= tables


def test_serve_help(tmp_path: Path) -> None:
    out = ok(smsgate(f"sqlite:///{tmp_path / 'unused.db'}", "serve", "--help", cwd=tmp_path))
    assert "--port" in out
    assert "--host" in out
    assert not (tmp_path / "unused.db").exists()  # --help touches no database
