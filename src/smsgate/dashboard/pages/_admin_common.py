"""What the operator's pages share: who acts (for the audit log), amounts and days typed in
forms, and the names of the accounts a page mentions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TypedDict

from fastapi import Request
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.accounts.service import get_account
from smsgate.dashboard.pages._account import actor
from smsgate.dashboard.web import Viewer, client_address
from smsgate.errors import InvalidRequest, NotFound
from smsgate.kit.money import InvalidAmount, parse_amount
from smsgate.surfaces.deps import MAX_ID

PAGE = 50


class Who(TypedDict):
    actor: str
    address: str


def who(request: Request, viewer: Viewer) -> Who:
    """The audit log's actor and address, as the core services take them."""
    return {"actor": actor(viewer), "address": client_address(request)}


def money_of(text: str, field: str, *, allow_negative: bool = False) -> Decimal:
    """An amount as people type it: "1 000,50" is 1000.50."""
    try:
        return parse_amount(text.replace(" ", "").replace(",", "."), allow_negative=allow_negative)
    except InvalidAmount as exc:
        raise InvalidRequest(str(exc), field=field, code="invalid_amount") from None


def day(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{text!r} is not a date (YYYY-MM-DD)", field=field) from None


def id_of(text: str, field: str) -> int | None:
    """A number typed in a filter: blank is none."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
        raise InvalidRequest(f"{text!r} is not a number from 1 to {MAX_ID}", field=field)
    return int(text)


def accounts_by_id(session: Session, ids: Iterable[int]) -> dict[int, Account]:
    """The accounts a page refers to (an id that no longer resolves is left out)."""
    found = {}
    for account_id in set(ids):
        try:
            found[account_id] = get_account(session, account_id)
        except NotFound:
            continue
    return found
