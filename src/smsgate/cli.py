"""The operator's command line: ``smsgate <group> <command>``.

Every command reads ``SMSGATE_DATABASE_URL``; errors are one line on stderr and exit 1.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.progress import Progress
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from smsgate.accounts.models import ApiToken, TokenScope
from smsgate.accounts.service import create_account, create_token, revoke_token, top_up
from smsgate.audit import service as audit
from smsgate.config import Settings, get_settings
from smsgate.connectors.registry import (
    add_connector,
    list_connectors,
    new_callback_url,
    public_view,
    rekey,
    remove_connector,
)
from smsgate.db import Database
from smsgate.errors import SmsgateError
from smsgate.kit.money import InvalidAmount, format_amount, parse_amount
from smsgate.migrations import upgrade
from smsgate.pricing.service import parse_rate_csv, replace_rates
from smsgate.routing.models import Strategy
from smsgate.routing.service import add_route, list_routes, remove_route
from smsgate.senders.models import Sender
from smsgate.senders.service import decide, find_sender, request_sender

app = typer.Typer(
    help="smsgate: a self-hosted SMS gateway and reseller platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
plans_app = typer.Typer(help="Price plans and rate cards.", no_args_is_help=True)
accounts_app = typer.Typer(help="Customer accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
senders_app = typer.Typer(help="Sender names.", no_args_is_help=True)
connectors_app = typer.Typer(help="Upstream connectors.", no_args_is_help=True)
routes_app = typer.Typer(help="The route table.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (plans_app, "plans"),
    (accounts_app, "accounts"),
    (tokens_app, "tokens"),
    (senders_app, "senders"),
    (connectors_app, "connectors"),
    (routes_app, "routes"),
):
    app.add_typer(sub, name=name)

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def clear_errors() -> Iterator[None]:
    try:
        yield
    except SmsgateError as exc:
        raise fail(exc.message) from None
    except InvalidAmount as exc:
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise fail(
            f"database: {str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}"
        ) from None
    except OSError as exc:
        raise fail(str(exc)) from None
    except ValidationError as exc:  # a malformed SMSGATE_* variable
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise fail(f"settings: SMSGATE_{where.upper()}: {first['msg']}") from None


def database(settings: Settings | None = None, *, migrate: bool = True) -> Database:
    settings = settings or get_settings()
    if migrate:
        upgrade(settings.database_url)
    return Database(settings.database_url)


def shown(settings: Settings) -> str:
    """The database URL as it may be printed: without its password."""
    return make_url(settings.database_url).render_as_string(hide_password=True)


def cli_actor() -> str:
    """How the audit log names an operator at the command line."""
    return f"cli:{getpass.getuser()}"


def amount(raw: str, *, negative: bool = False) -> Decimal:
    with clear_errors():
        return parse_amount(raw, allow_negative=negative)


def in_transaction(fn: Callable[..., T]) -> T:
    with clear_errors():  # opening (and migrating) the database can fail too
        db = database()
        try:
            with db.write() as session:
                return fn(session)
        finally:
            db.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    dispatch: Annotated[bool, typer.Option(help="Run the dispatcher in this process")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes sharing the port (uvicorn's workers)")
    ] = 1,
) -> None:
    """Run the API, the dispatcher and the simulator in one process (or in each of
    ``--workers`` processes)."""
    import uvicorn

    from smsgate.app import DISPATCH_ENV, create_app
    from smsgate.bootstrap import create_demo
    from smsgate.logs import configure

    with clear_errors():
        settings = get_settings()
    configure(settings.log_level, settings.log_json)
    with clear_errors():
        db = database(settings)
        demo = create_demo(db, settings.demo_balance) if settings.demo else None
        db.dispose()
    host, port = host or settings.host, port or settings.port
    if demo is not None:
        typer.echo(f"Demo account {demo.account_id} created; sender '{demo.sender}' is approved.")
        typer.echo(f"Demo API token (shown once): {demo.token}")
    typer.echo(f"smsgate on http://{host}:{port} (docs at /docs), database {shown(settings)}")
    # Each worker of several is a fresh interpreter that builds the app from the environment
    # (uvicorn imports it by name); migrations and the demo account ran above, once.
    os.environ[DISPATCH_ENV] = "1" if dispatch else "0"
    uvicorn.run(
        create_app(settings, dispatch=dispatch, freeze_gc=True)
        if workers == 1
        else "smsgate.app:served_app",
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


@app.command()
def worker() -> None:
    """Run the dispatcher and the webhook worker without the API (for several processes on
    PostgreSQL beside `smsgate serve --no-dispatch`)."""
    import asyncio

    from smsgate.logs import configure

    with clear_errors():
        settings = get_settings()
    configure(settings.log_level, settings.log_json)
    with clear_errors():
        database(settings).dispose()
    typer.echo(f"smsgate worker, database {shown(settings)}")
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    import asyncio
    import signal

    from smsgate.app import freeze_long_lived
    from smsgate.runtime import Runtime

    runtime = Runtime(settings, dispatch=True)
    await runtime.start()
    freeze_long_lived()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runtime.stop()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with clear_errors():
        upgrade(get_settings().database_url)
    typer.echo("database is up to date")


@plans_app.command("import")
def plans_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns mcc,mnc,country,network,price")],
    name: Annotated[str, typer.Option(help="Plan name; importing again replaces its rates")],
) -> None:
    """Import a rate card; a bad row stops the import and nothing changes."""
    with clear_errors():
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise fail(f"{file}: not UTF-8 text (byte {exc.start})") from None
        rows = list(parse_rate_csv(text))  # validate everything before touching the database
    with Progress(transient=True, disable=len(rows) < 5000) as progress:
        task = progress.add_task("importing rates", total=len(rows))
        in_transaction(lambda s: replace_rates(s, name, rows, lambda n: progress.advance(task, n)))
    typer.echo(f"plan {name!r}: {len(rows)} rates imported")


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option(help="Account name")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "EUR",
    balance: Annotated[str, typer.Option(help="Opening balance")] = "0",
    plan: Annotated[str | None, typer.Option(help="Price plan name")] = None,
    tax_rate: Annotated[str, typer.Option(help="Tax as a fraction, e.g. 0.21")] = "0",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Create an account with a first API token."""
    opening, tax = amount(balance), amount(tax_rate)

    def create(session):  # type: ignore[no-untyped-def]
        account = create_account(
            session,
            name,
            currency=currency,
            balance=opening,
            plan=plan,
            tax_rate=tax,
            timezone=timezone,
        )
        _, token = create_token(session, account.id, name="first")
        return account, token

    account, token = in_transaction(create)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": account.id,
                    "name": account.name,
                    "currency": account.currency,
                    "balance": format_amount(opening),
                    "token": token,
                }
            )
        )
    else:
        typer.echo(f"account {account.id} created; API token (shown once): {token}")


@accounts_app.command("topup")
def accounts_topup(
    account: Annotated[int, typer.Option(help="Account id")],
    amount_: Annotated[str, typer.Option("--amount", help="Amount to credit")],
) -> None:
    """Credit an account's SMS balance (one ledger entry)."""
    value = amount(amount_)

    def credit(session: Session) -> Decimal:
        after = top_up(session, account, value, "top-up by the operator")
        audit.record(session, cli_actor(), "account.topup", f"account:{account}", amount=value)
        return after

    after = in_transaction(credit)
    typer.echo(f"account {account}: balance {format_amount(after)}")


@tokens_app.command("create")
def tokens_create(
    account: Annotated[int | None, typer.Option(help="Account id")] = None,
    operator: Annotated[bool, typer.Option("--operator", help="An operator token")] = False,
    name: Annotated[str, typer.Option(help="A label")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Create an API token; it is printed once."""
    if operator == (account is not None):
        raise fail("give either --account ID or --operator")
    scope = TokenScope.OPERATOR if operator else TokenScope.CUSTOMER

    def create(session: Session) -> tuple[ApiToken, str]:
        row, token = create_token(session, account, scope=scope, name=name)
        audit.record(
            session,
            cli_actor(),
            "token.create",
            f"token:{row.id}",
            account_id=account,
            scope=scope.value,
        )
        return row, token

    row, token = in_transaction(create)
    if as_json:
        typer.echo(
            json.dumps({"id": row.id, "account_id": account, "scope": scope.value, "token": token})
        )
    else:
        typer.echo(f"token {row.id} ({scope.value}): {token}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Token id")]) -> None:
    """Revoke a token; it stops working within seconds."""

    def revoke(session: Session) -> None:
        revoke_token(session, token_id)
        audit.record(session, cli_actor(), "token.revoke", f"token:{token_id}")

    in_transaction(revoke)
    typer.echo(f"token {token_id} revoked")


@senders_app.command("add")
def senders_add(
    account: Annotated[int, typer.Option(help="Account id")],
    name: Annotated[str, typer.Option(help="Sender name")],
    approved: Annotated[bool, typer.Option("--approved", help="Approve at once")] = False,
) -> None:
    """Add a sender name to an account."""
    sender = in_transaction(lambda s: request_sender(s, account, name, approved=approved))
    typer.echo(f"sender {sender.name!r} of account {account}: {sender.status}")


@senders_app.command("approve")
def senders_approve(
    account: Annotated[int, typer.Option(help="Account id")],
    name: Annotated[str, typer.Option(help="Sender name")],
) -> None:
    """Approve a requested sender name."""

    def approve(session: Session) -> Sender:
        sender = decide(session, find_sender(session, account, name), approve=True)
        audit.record(session, cli_actor(), "sender.approve", f"sender:{sender.id}", name=name)
        return sender

    sender = in_transaction(approve)
    typer.echo(f"sender {sender.name!r} of account {account}: {sender.status}")


@connectors_app.command("add")
def connectors_add(
    name: Annotated[str, typer.Option(help="Connector name")],
    kind: Annotated[str, typer.Option(help="simulator or smpp")],
    host: Annotated[str | None, typer.Option(help="SMPP host")] = None,
    port: Annotated[int | None, typer.Option(help="SMPP port")] = None,
    system_id: Annotated[str | None, typer.Option(help="SMPP system_id")] = None,
    password: Annotated[str, typer.Option(help="SMPP password (stored, never shown)")] = "",
    system_type: Annotated[str, typer.Option(help="SMPP system_type")] = "",
    binds: Annotated[int, typer.Option(help="SMPP binds")] = 1,
    window: Annotated[int, typer.Option(help="Outstanding submit_sm per bind")] = 10,
    tps: Annotated[int | None, typer.Option(help="Parts a second, all binds together")] = None,
    delay: Annotated[float, typer.Option(help="simulator: seconds before the receipt")] = 0.5,
    undeliverable: Annotated[str, typer.Option(help="simulator: numbers (regex)")] = "",
    rejected: Annotated[str, typer.Option(help="simulator: numbers (regex)")] = "",
    option: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE for HTTP providers and extra SMPP settings; repeatable"),
    ] = None,
    secret: Annotated[str, typer.Option(help="API key or token (stored, never shown)")] = "",
) -> None:
    """Add an upstream connector; running dispatchers start it within seconds."""
    options: dict[str, object]
    extra = dict(_key_value(o) for o in option or [])
    password = password or secret
    if kind not in ("smpp", "simulator"):
        options = extra
    elif kind == "smpp":
        options = {
            "host": host,
            "port": port,
            "system_id": system_id or "",
            "system_type": system_type,
            "binds": binds,
            "window": window,
            "tps": tps,
        }
    else:
        options = {"delay": delay, "undeliverable": undeliverable, "rejected": rejected}
    if kind in ("smpp", "simulator"):
        options.update(extra)

    def add(session: Session) -> str | None:
        config = add_connector(session, name, kind, options, password)
        audit.record(session, cli_actor(), "connector.add", f"connector:{name}", kind=kind)
        return new_callback_url(config, get_settings())

    callback = in_transaction(add)
    typer.echo(f"connector {name!r} ({kind}) added")
    if callback:
        typer.echo(f"callback URL (shown once; for the provider's inbound settings): {callback}")


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise fail(f"--option {text!r} is not KEY=VALUE")
    number = value.strip()
    if number.isdigit():
        return key.strip(), int(number)
    return key.strip(), value


@connectors_app.command("list")
def connectors_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List connectors (secrets are never shown)."""
    rows = in_transaction(lambda s: [public_view(c) for c in list_connectors(s)])
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['name']}\t{row['kind']}\t{json.dumps(row['options'])}")


@connectors_app.command("rekey")
def connectors_rekey() -> None:
    """Encrypt every stored credential under the first SMSGATE_SECRET_KEY (after a key
    rotation, or for rows stored before encryption) and give HTTP connectors without a
    callback token one."""

    def run(session: Session) -> list[tuple[str, str]]:
        issued = rekey(session, get_settings())
        audit.record(session, cli_actor(), "connector.rekey", "connectors", issued=len(issued))
        return issued

    issued = in_transaction(run)
    typer.echo("connector credentials sealed under the first key")
    for connector, url in issued:
        typer.echo(f"{connector}: new callback URL (shown once): {url}")


@connectors_app.command("remove")
def connectors_remove(name: Annotated[str, typer.Argument(help="Connector name")]) -> None:
    """Remove a connector; running dispatchers stop it within seconds."""

    def remove(session: Session) -> None:
        remove_connector(session, name)
        audit.record(session, cli_actor(), "connector.remove", f"connector:{name}")

    in_transaction(remove)
    typer.echo(f"connector {name!r} removed")


@routes_app.command("add")
def routes_add(
    connector: Annotated[str, typer.Option(help="Connector name(s): 'a' or 'a:3,b:1'")],
    account: Annotated[int | None, typer.Option(help="Only this account")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country code")] = None,
    mcc: Annotated[str | None, typer.Option(help="Mobile country code")] = None,
    mnc: Annotated[str | None, typer.Option(help="Mobile network code")] = None,
    prefix: Annotated[str | None, typer.Option(help="Number prefix (digits)")] = None,
    sender: Annotated[str | None, typer.Option(help="Sender name")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Requested route type")] = None,
    priority: Annotated[int, typer.Option(help="Lower is tried first")] = 100,
    strategy: Annotated[Strategy, typer.Option(help="How to pick among connectors")] = (
        Strategy.PRIORITY
    ),
) -> None:
    """Add a route; no match options means every message."""

    def add(session: Session) -> int:
        route = add_route(
            session,
            connector,
            priority=priority,
            strategy=strategy,
            account_id=account,
            country=country.upper() if country else None,
            mcc=mcc,
            mnc=mnc,
            prefix=prefix,
            sender=sender,
            requested_type=type_,
        )
        audit.record(session, cli_actor(), "route.add", f"route:{route.id}", connectors=connector)
        return route.id

    route_id = in_transaction(add)
    typer.echo(f"route {route_id} added")


@routes_app.command("list")
def routes_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the route table in the order it is tried."""
    fields = (
        "id",
        "priority",
        "connectors",
        "strategy",
        "account_id",
        "plan_id",
        "country",
        "mcc",
        "mnc",
        "prefix",
        "sender",
        "requested_type",
    )
    rows = in_transaction(lambda s: [{f: getattr(r, f) for f in fields} for r in list_routes(s)])
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        conditions = " ".join(f"{k}={v}" for k, v in row.items() if k not in fields[:4] and v)
        typer.echo(
            f"{row['id']}\t{row['priority']}\t{row['connectors']}\t{row['strategy']}"
            f"\t{conditions or 'every message'}"
        )


@routes_app.command("remove")
def routes_remove(route_id: Annotated[int, typer.Argument(help="Route id")]) -> None:
    """Remove a route."""

    def remove(session: Session) -> None:
        remove_route(session, route_id)
        audit.record(session, cli_actor(), "route.remove", f"route:{route_id}")

    in_transaction(remove)
    typer.echo(f"route {route_id} removed")


def _register_late_groups() -> None:
    # imported here: the invoices commands import helpers from this module
    from smsgate.billing.cli import invoices_app
    from smsgate.dashboard.cli import users_app

    app.add_typer(invoices_app, name="invoices")
    app.add_typer(users_app, name="users")


_register_late_groups()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
