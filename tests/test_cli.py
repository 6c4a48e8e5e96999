"""The operator CLI, each command in a process of its own: forked from one that imported the
CLI once (tests/support/cli.py), the installed ``smsgate`` console script where the script
itself is the subject (``serve --help``, ``db upgrade`` of a fresh file, an over-long SMPP
field).

The commands that change the database run on SQLite and PostgreSQL (``db_url``); the error
paths, ``db upgrade`` and ``serve --help`` run on SQLite only. A forked command costs a
tenth of a second or so, the console script over a second (its imports).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
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
from smsgate.senders.service import find_sender, list_senders
from tests.support.cli import smsgate as forked
from tests.support.factories import make_customer

_BIN = Path(sys.executable).parent
SMSGATE = shutil.which("smsgate", path=str(_BIN)) or str(_BIN / "smsgate")

HEADER = "mcc,mnc,country,network,price\n"
FIRST_CARD = HEADER + "247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n257,,Belarus,,0.06\n"
SECOND_CARD = HEADER + "434,,Uzbekistan,,0.05\n434,04,Uzbekistan,Beeline,0.045\n"

Result = subprocess.CompletedProcess[str]
Cli = Callable[..., Result]


def run(
    url: str,
    cwd: Path,
    command: str,
    *more: str,
    env: dict[str, str] | None = None,
    script: bool = False,
) -> Result:
    """``smsgate <command> <more...>`` against ``url``; ``command`` is split like a shell.
    ``script``: through the installed console script rather than a forked child."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    environ.update(SMSGATE_DATABASE_URL=url, NO_COLOR="1", COLUMNS="200", **(env or {}))
    args = [*shlex.split(command), *more]
    # cwd: the test's own directory, so that no stray .env file is read
    if script:
        return subprocess.run(
            [SMSGATE, *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=60
        )
    return forked(args, env=environ, cwd=cwd)


def ok(result: Result) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: Result) -> str:
    """The CLI's contract for errors: exit 1, one line on stderr, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.stdout == ""
    return lines[0]


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def rates_of(db: Database, plan: str) -> list[tuple[str, str | None, str, str, Decimal]]:
    with db.read() as session:
        plan_id = plan_by_name(session, plan).id
        return [(r.mcc, r.mnc, r.country, r.network, r.price) for r in list_rates(session, plan_id)]


def plan_version(db: Database, plan: str) -> int:
    with db.read() as session:
        return plan_by_name(session, plan).version


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return lambda command, *more, **kw: run(db_url, tmp_path, command, *more, **kw)


# --------------------------------------------------------------- both databases


def test_plans_import_then_reimport_replaces(cli: Cli, db: Database, tmp_path: Path) -> None:
    out = ok(cli("plans import --name std", write(tmp_path / "first.csv", FIRST_CARD)))
    assert "3 rates imported" in out
    assert rates_of(db, "std") == [
        ("247", None, "Latvia", "", Decimal("0.04")),  # empty mnc: the country default
        ("247", "01", "Latvia", "LMT", Decimal("0.03")),  # mnc keeps its leading zero
        ("257", None, "Belarus", "", Decimal("0.06")),
    ]
    version = plan_version(db, "std")

    ok(cli("plans import --name std", write(tmp_path / "second.csv", SECOND_CARD)))
    assert rates_of(db, "std") == [  # none of the first card is left
        ("434", None, "Uzbekistan", "", Decimal("0.05")),
        ("434", "04", "Uzbekistan", "Beeline", Decimal("0.045")),
    ]
    assert plan_version(db, "std") == version + 1  # so every process reloads its rate book


@pytest.mark.parametrize(
    ("card", "where", "plan_name"),
    [
        pytest.param(HEADER + "434,,Uzbekistan,,0.05\n4x4,04,Uzbekistan,Beeline,0.04\n",
                     "line 3: mcc '4x4'", "standard", id="bad-mcc"),
        pytest.param(HEADER + "247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n257,,Belarus,,zero\n",
                     "line 4: price 'zero'", "standard", id="bad-price"),
        # to a new plan name: the plan must not even be created
        pytest.param(HEADER + "247,,Latvia,,0.04\n247,,Latvia,,0.05\n",
                     "line 3: a second rate", "fresh", id="duplicate"),
    ],
)  # fmt: skip
def test_plans_import_refuses_a_bad_row_and_changes_nothing(
    cli: Cli, db: Database, plan: str, tmp_path: Path, card: str, where: str, plan_name: str
) -> None:
    before, version = rates_of(db, plan), plan_version(db, plan)
    line = one_line_error(cli(f"plans import --name {plan_name}", write(tmp_path / "x.csv", card)))
    assert where in line
    assert rates_of(db, plan) == before
    assert plan_version(db, plan) == version
    with db.read() as session:
        assert session.scalar(select(PricePlan).where(PricePlan.name == "fresh")) is None


def test_accounts_create(cli: Cli, db: Database, plan: str) -> None:
    created = json.loads(ok(cli(
        f"accounts create --name Acme --currency EUR --balance 10 --plan {plan}"
        " --tax-rate 0.2 --timezone Europe/Riga --json"
    )))  # fmt: skip
    account_id, token = created["id"], created["token"]
    assert isinstance(account_id, int)
    assert token.startswith("sg_")
    assert created["balance"] == "10.00"
    with db.read() as session:
        account = get_account(session, account_id)
        assert (account.name, account.currency, account.timezone) == ("Acme", "EUR", "Europe/Riga")
        assert account.tax_rate == Decimal("0.2")
        assert account.price_plan_id == plan_by_name(session, plan).id
        assert balance(session, account_id) == entries_total(session, account_id) == Decimal(10)
        assert authenticate(session, token).account_id == account_id  # the first token works


def test_accounts_topup(cli: Cli, db: Database, plan: str) -> None:
    account_id = make_customer(db, balance=Decimal(10)).account_id
    assert "balance 15.00" in ok(cli(f"accounts topup --account {account_id} --amount 5"))
    with db.read() as session:
        assert balance(session, account_id) == Decimal(15)
        assert entries_total(session, account_id) == Decimal(15)
        entries = list_entries(session, account_id, limit=10)
    assert [e.amount for e in entries] == [Decimal(5), Decimal(10)]  # one new entry, newest first
    assert entries[0].balance_after == Decimal(15)


def test_tokens_create_and_revoke(cli: Cli, db: Database, plan: str) -> None:
    account_id = make_customer(db).account_id
    customer = json.loads(ok(cli(f"tokens create --account {account_id} --json")))
    operator = json.loads(ok(cli("tokens create --operator --json")))
    assert (customer["account_id"], customer["scope"]) == (account_id, "customer")
    assert (operator["account_id"], operator["scope"]) == (None, "operator")
    with db.read() as session:
        who = authenticate(session, customer["token"])
        assert (who.token_id, who.account_id, who.scope) == (
            customer["id"], account_id, TokenScope.CUSTOMER)  # fmt: skip
        boss = authenticate(session, operator["token"])
        assert boss.is_operator
        assert boss.token_id == operator["id"]

    assert "revoked" in ok(cli(f"tokens revoke {customer['id']}"))
    with db.read() as session:
        with pytest.raises(Unauthenticated):
            authenticate(session, customer["token"])
        assert authenticate(session, operator["token"]).is_operator  # the others still work


def test_senders_add_and_approve(cli: Cli, db: Database, plan: str) -> None:
    account_id = make_customer(db, sender="Start").account_id
    assert "pending" in ok(cli(f"senders add --account {account_id} --name ACME"))
    assert "approved" in ok(cli(f"senders add --account {account_id} --name Shop --approved"))
    with db.read() as session:
        assert {s.name: s.status for s in list_senders(session, account_id)} == {
            "Start": SenderStatus.APPROVED, "ACME": SenderStatus.PENDING,
            "Shop": SenderStatus.APPROVED}  # fmt: skip
    assert "approved" in ok(cli(f"senders approve --account {account_id} --name ACME"))
    with db.read() as session:
        approved = list_senders(session, account_id, approved_only=True)
        assert [s.name for s in approved] == ["Start", "ACME", "Shop"]
        assert find_sender(session, account_id, "ACME").status == SenderStatus.APPROVED


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
    ("command", "expected"),
    [
        pytest.param("accounts create --name X --plan nope",
                     "no price plan named 'nope'", id="unknown-plan"),
        pytest.param("accounts create --name X --timezone Mars/Olympus",
                     "unknown time zone 'Mars/Olympus'", id="bad-timezone"),
        pytest.param("accounts create --name X --balance ten",
                     "'ten' is not an amount", id="bad-amount"),
        pytest.param("accounts topup --account 424242 --amount 5",
                     "no account with id 424242", id="topup-unknown-account"),
        pytest.param("tokens create --account 424242",
                     "no account with id 424242", id="token-unknown-account"),
        pytest.param("senders add --account 424242 --name ACME",
                     "no account with id 424242", id="sender-unknown-account"),
        pytest.param("tokens revoke 424242",
                     "no active token with id 424242", id="revoke-unknown-token"),
    ],
)  # fmt: skip
def test_errors_are_one_clear_line(
    sqlite_url: str, tmp_path: Path, command: str, expected: str
) -> None:
    assert expected in one_line_error(run(sqlite_url, tmp_path, command))
    assert _accounts(sqlite_url) == 0


def test_rate_file_that_is_not_utf8(sqlite_url: str, tmp_path: Path) -> None:
    card = tmp_path / "latin1.csv"
    card.write_bytes((HEADER + "276,,Österreich,,0.05\n").encode("latin-1"))
    line = one_line_error(run(sqlite_url, tmp_path, "plans import --name p", str(card)))
    assert "latin1.csv" in line
    assert "UTF-8" in line


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    line = one_line_error(run(url, tmp_path, "accounts topup --account 1 --amount 5"))
    assert line.startswith("error: database: ")


def test_malformed_setting_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    result = run(sqlite_url, tmp_path, "db upgrade", env={"SMSGATE_PORT": "eighty"})
    assert "SMSGATE_PORT" in one_line_error(result)


def test_db_upgrade_creates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite:///{path}"
    assert "up to date" in ok(run(url, tmp_path, "db upgrade", script=True))
    database = Database(url)
    try:
        tables = set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
    assert {"alembic_version", "accounts", "api_tokens", "price_plans", "rates"} <= tables


def test_serve_help(tmp_path: Path) -> None:
    out = ok(run(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path, "serve --help", script=True))
    assert "--port" in out
    assert "--host" in out
    assert not (tmp_path / "unused.db").exists()  # --help touches no database


def test_cli_token_and_money_actions_are_audited(tmp_path: Path) -> None:
    from smsgate.audit.models import AuditEntry
    from smsgate.db import Database
    from smsgate.migrations import upgrade
    from tests.support.factories import make_customer, make_plan

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    db = Database(url)
    make_plan(db)
    customer = make_customer(db)
    env = {**os.environ, "SMSGATE_DATABASE_URL": url}
    made = forked(
        ["tokens", "create", "--account", str(customer.account_id), "--json"], env=env, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    token_id = json.loads(made.stdout)["id"]
    for args in (
        ["tokens", "revoke", str(token_id)],
        ["accounts", "topup", "--account", str(customer.account_id), "--amount", "3"],
    ):
        assert forked(args, env=env, cwd=tmp_path).returncode == 0
    with db.read() as session:
        actions = [(e.action, e.target) for e in session.query(AuditEntry).order_by(AuditEntry.id)]
    db.dispose()
    assert actions == [
        ("token.create", f"token:{token_id}"),
        ("token.revoke", f"token:{token_id}"),
        ("account.topup", f"account:{customer.account_id}"),
    ]


def test_connectors_and_routes_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'routes.db'}"
    env = {**os.environ, "SMSGATE_DATABASE_URL": url}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = forked(args, env=env, cwd=tmp_path)
        assert (done.returncode == 0) == ok, done.stderr
        assert "Traceback" not in done.stderr
        return done

    run(
        "connectors",
        "add",
        "--name",
        "carrier",
        "--kind",
        "smpp",
        "--host",
        "127.0.0.1",
        "--port",
        "2775",
        "--system-id",
        "me",
        "--password",
        "s3cret",
        "--window",
        "50",
        "--option",
        "long_messages=sar",
    )
    run("connectors", "add", "--name", "sim2", "--kind", "simulator", "--delay", "0.1")
    listed = json.loads(run("connectors", "list", "--json").stdout)
    assert {c["name"] for c in listed} == {"carrier", "sim2"}
    assert "s3cret" not in json.dumps(listed)
    carrier = next(c for c in listed if c["name"] == "carrier")
    assert carrier["options"]["window"] == 50 and carrier["options"]["long_messages"] == "sar"
    assert carrier["has_secret"] is True
    run("connectors", "add", "--name", "x", "--kind", "pigeon", ok=False)
    run("connectors", "add", "--name", "y", "--kind", "smpp", ok=False)  # no host
    run(
        "routes",
        "add",
        "--connector",
        "carrier:3,sim2",
        "--strategy",
        "weighted",
        "--country",
        "lv",
        "--priority",
        "10",
    )
    run("routes", "add", "--connector", "sim2")
    routes = json.loads(run("routes", "list", "--json").stdout)
    assert [(r["connectors"], r["country"], r["strategy"]) for r in routes] == [
        ("carrier:3,sim2", "LV", "weighted"),
        ("sim2", None, "priority"),
    ]
    run("routes", "add", "--connector", "a:0", ok=False)
    run("routes", "remove", str(routes[0]["id"]))
    run("routes", "remove", "999", ok=False)
    run("connectors", "remove", "carrier")
    run("connectors", "remove", "carrier", ok=False)
    assert [c["name"] for c in json.loads(run("connectors", "list", "--json").stdout)] == ["sim2"]


def test_smpp_fields_longer_than_smpp_allows_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "SMSGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'long.db'}"}
    smsgate = str(Path(sys.executable).with_name("smsgate"))
    done = subprocess.run(
        [
            smsgate,
            "connectors",
            "add",
            "--name",
            "c",
            "--kind",
            "smpp",
            "--host",
            "h",
            "--port",
            "1",
            "--password",
            "123456789",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "error: SMPP allows at most 8 characters in password"
