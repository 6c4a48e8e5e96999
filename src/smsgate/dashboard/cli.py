"""``smsgate users create|invite``: dashboard users from the command line.

Registered by ``smsgate.cli``; that module is imported inside the commands, not here,
because it imports this one.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from smsgate.audit import service as audit
from smsgate.dashboard import users
from smsgate.dashboard.models import DashboardUser

users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"cli:uid{os.getuid()}"


@users_app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    account: Annotated[int | None, typer.Option(help="Account id (a customer's user)")] = None,
    operator: Annotated[bool, typer.Option("--operator", help="An operator user")] = False,
    password: Annotated[
        str | None, typer.Option(help="Password (asked for, hidden, when left out)")
    ] = None,
    locale: Annotated[
        str | None, typer.Option(help="en or ru (default: the account's language)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Create a dashboard user who signs in at /app/signin."""
    from smsgate.cli import fail, in_transaction

    if operator == (account is not None):
        raise fail("give either --account ID or --operator")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    def run(session: Session) -> DashboardUser:
        user = users.create_user(
            session, email, password, account_id=account, operator=operator, locale=locale
        )
        audit.record(
            session, _actor(), "user.create", f"user:{user.id}", account_id=account,
            operator=operator, email=user.email,
        )  # fmt: skip
        return user

    user = in_transaction(run)
    role = "operator" if user.is_operator else f"account {user.account_id}"
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": user.id,
                    "email": user.email,
                    "account_id": user.account_id,
                    "operator": user.is_operator,
                    "locale": user.locale,
                }
            )
        )
    else:
        typer.echo(f"user {user.id} ({user.email}, {role}, {user.locale}) created")


@users_app.command("invite")
def invite(
    account: Annotated[int, typer.Option(help="Account id")],
    email: Annotated[str, typer.Option(help="The invitee's email")],
    base_url: Annotated[
        str, typer.Option(help="The dashboard's address, to print a whole link")
    ] = "",
) -> None:
    """Invite someone to an account; prints the link where they choose a password."""
    from smsgate.cli import in_transaction
    from smsgate.config import get_settings

    hours = get_settings().dashboard_invitation_hours

    def run(session: Session) -> users.InviteLink:
        link = users.invite(session, account, email, hours=hours)
        audit.record(session, _actor(), "user.invite", f"account:{account}", email=link.email)
        return link

    link = in_transaction(run)
    typer.echo(f"{base_url.rstrip('/')}{link.path}")
