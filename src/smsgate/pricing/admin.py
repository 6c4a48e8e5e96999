"""The operator's price plans: create, import and export rate cards, refund policy, and the
cost plans of connectors. Every change is audited in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from smsgate.accounts.models import Account
from smsgate.accounts.service import plan_by_name
from smsgate.audit import service as audit
from smsgate.errors import Conflict, InvalidRequest, NotFound
from smsgate.kit.csvsafe import to_csv, unneutralise
from smsgate.kit.money import format_amount
from smsgate.pricing.models import ConnectorCostPlan, PricePlan, Rate
from smsgate.pricing.service import (
    CSV_COLUMNS,
    RateFileError,
    RateRow,
    list_rates,
    parse_rate_csv,
    replace_rates,
)

# No "/" (a plan is addressed by name in URLs) and no surrounding spaces.
_PLAN_NAME = re.compile(r"[\w.-](?:[\w .-]{0,98}[\w.-])?")
_CONNECTOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class PlanSummary:
    plan: PricePlan
    rates: int
    accounts: int


def _summaries(session: Session, plans: list[PricePlan]) -> list[PlanSummary]:
    ids = [p.id for p in plans]
    if not ids:
        return []
    rates = dict(
        session.execute(
            select(Rate.plan_id, func.count()).where(Rate.plan_id.in_(ids)).group_by(Rate.plan_id)
        ).all()
    )
    accounts = dict(
        session.execute(
            select(Account.price_plan_id, func.count())
            .where(Account.price_plan_id.in_(ids))
            .group_by(Account.price_plan_id)
        ).all()
    )
    return [PlanSummary(p, rates.get(p.id, 0), accounts.get(p.id, 0)) for p in plans]


def list_plans(session: Session, *, limit: int, offset: int = 0) -> tuple[list[PlanSummary], int]:
    total = session.scalar(select(func.count()).select_from(PricePlan)) or 0
    plans = list(
        session.scalars(select(PricePlan).order_by(PricePlan.name).limit(limit).offset(offset))
    )
    return _summaries(session, plans), total


def plan_summary(session: Session, name: str) -> PlanSummary:
    return _summaries(session, [plan_by_name(session, name)])[0]


def check_plan_name(name: str) -> str:
    if not _PLAN_NAME.fullmatch(name):
        raise InvalidRequest(
            f"{name!r} is not a plan name: 1 to 100 letters, digits, spaces, '.', '_' or '-', "
            "not starting or ending with a space",
            field="name",
        )
    return name


def create_plan(
    session: Session,
    name: str,
    *,
    refund_undeliverable: bool = False,
    actor: str,
    address: str = "",
) -> PricePlan:
    """An empty plan (its rates come from an import)."""
    check_plan_name(name)
    if session.scalar(select(PricePlan.id).where(PricePlan.name == name)) is not None:
        raise Conflict(f"a price plan named {name!r} already exists", code="plan_exists")
    plan = PricePlan(name=name, refund_undeliverable=refund_undeliverable)
    session.add(plan)
    session.flush()
    audit.record(
        session,
        actor,
        "plan.create",
        f"plan:{name}",
        address=address,
        refund_undeliverable=refund_undeliverable,
    )
    return plan


def set_plan_refund_policy(
    session: Session, name: str, refund: bool, *, actor: str, address: str = ""
) -> PricePlan:
    """Whether undeliverable messages of the plan's accounts are refunded (an account's own
    policy, when set, wins)."""
    plan = plan_by_name(session, name)
    if plan.refund_undeliverable is not refund:
        plan.refund_undeliverable = refund
        session.flush()
        audit.record(
            session,
            actor,
            "plan.set_refund_policy",
            f"plan:{name}",
            address=address,
            refund_undeliverable=refund,
            previous=not refund,
        )
    return plan


def _undo_export_quoting(row: RateRow) -> RateRow:
    # The export neutralises formula-like cells with a leading "'"; take it off again so that
    # an exported card imports unchanged.
    return RateRow(
        row.mcc, row.mnc, unneutralise(row.country), unneutralise(row.network), row.price
    )


def read_card(text: str) -> list[RateRow]:
    """A whole rate card as ``import_rates`` reads it, or ``RateFileError``."""
    rows = [_undo_export_quoting(r) for r in parse_rate_csv(text)]
    if not rows:
        raise RateFileError("the rate card has a header but no rates")
    return rows


def import_rates(
    session: Session, name: str, text: str, *, actor: str, address: str = ""
) -> tuple[PricePlan, int]:
    """Replace every rate of the plan (created if new) with a CSV rate card.

    The whole card is checked before anything changes; the first bad line is named in a
    ``RateFileError``.
    """
    if session.scalar(select(PricePlan.id).where(PricePlan.name == name)) is None:
        check_plan_name(name)
    rows = read_card(text)
    plan = replace_rates(session, name, rows)
    session.refresh(plan)
    audit.record(session, actor, "plan.import", f"plan:{name}", address=address, rates=len(rows))
    return plan, len(rows)


def export_rates(session: Session, name: str) -> str:
    """The plan's rate card as CSV, in the import's columns, safe to open in a spreadsheet."""
    plan = plan_by_name(session, name)
    return to_csv(
        CSV_COLUMNS,
        (
            (r.mcc, r.mnc or "", r.country, r.network, format_amount(r.price))
            for r in list_rates(session, plan.id)
        ),
    )


# ---- connectors' cost plans ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostPlan:
    connector: str
    plan: str


def set_cost_plan(
    session: Session, connector: str, plan_name: str, *, actor: str, address: str = ""
) -> CostPlan:
    """What the upstream ``connector`` charges: the rates of the plan ``plan_name``.

    The connector is not checked against the configured ones: a cost plan may be set before
    its connector exists, and the built-in simulator has no configuration row.
    """
    if not _CONNECTOR_NAME.fullmatch(connector):
        raise InvalidRequest(
            f"{connector!r} is not a connector name (letters, digits, '.', '_', '-')",
            field="connector",
        )
    plan = plan_by_name(session, plan_name)
    row = session.get(ConnectorCostPlan, connector)
    previous = None
    if row is None:
        session.add(ConnectorCostPlan(connector=connector, plan_id=plan.id))
    elif row.plan_id != plan.id:
        previous = session.scalar(select(PricePlan.name).where(PricePlan.id == row.plan_id))
        row.plan_id = plan.id
    else:
        return CostPlan(connector, plan.name)
    session.flush()
    audit.record(
        session,
        actor,
        "connector.set_cost_plan",
        f"connector:{connector}",
        address=address,
        plan=plan.name,
        previous=previous,
    )
    return CostPlan(connector, plan.name)


def remove_cost_plan(session: Session, connector: str, *, actor: str, address: str = "") -> None:
    removed = session.execute(
        delete(ConnectorCostPlan).where(ConnectorCostPlan.connector == connector)
    )
    if removed.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"connector {connector!r} has no cost plan", code="cost_plan_not_found")
    audit.record(
        session, actor, "connector.remove_cost_plan", f"connector:{connector}", address=address
    )


def list_cost_plans(session: Session) -> list[CostPlan]:
    rows = session.execute(
        select(ConnectorCostPlan.connector, PricePlan.name)
        .join(PricePlan, PricePlan.id == ConnectorCostPlan.plan_id)
        .order_by(ConnectorCostPlan.connector)
    )
    return [CostPlan(connector, plan) for connector, plan in rows]
