"""Gateways of one process share the route table and keep their own settings and state."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from smsgate.app import create_app, surfaces
from smsgate.config import Settings
from smsgate.db import Database
from tests.support.factories import make_customer, make_plan
from tests.support.server import serving


def _second_database(settings: Settings, template: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "second.db"
    shutil.copyfile(template, path)
    return settings.model_copy(update={"database_url": f"sqlite:///{path}", "max_body_bytes": 600})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_gateways_share_routes_not_accounts_limits_or_state(
    db: Database, settings: Settings, plan: str, sqlite_template: Path, tmp_path: Path
) -> None:
    other_settings = _second_database(settings, sqlite_template, tmp_path)
    first, second = create_app(settings), create_app(other_settings)
    assert first.routes is second.routes is surfaces().routes
    assert first.state is not second.state and first.state.runtime is not second.state.runtime
    customer = make_customer(db)
    other_db = Database(other_settings.database_url)
    make_plan(other_db)
    other = make_customer(other_db, name="Other", balance=Decimal("3"))
    body = {"to": "+37126123456", "text": "hi", "sender": customer.sender}
    try:
        with serving(first) as one, serving(second) as two:
            with httpx.Client(base_url=one) as a, httpx.Client(base_url=two) as b:
                # each gateway answers from its own database: a token works on its own only
                assert a.get("/v1/balance", headers=customer.headers).json()["balance"] == "10.00"
                assert b.get("/v1/balance", headers=customer.headers).status_code == 401
                assert b.get("/v1/balance", headers=other.headers).json()["balance"] == "3.00"
                # each has its own body limit, on the fast lane and on the routed paths
                for path, to in (("/v1/messages", body["to"]), ("/v1/quote", [body["to"]])):
                    long_body = {**body, "to": to, "text": "x" * 700}
                    taken = a.post(path, json=long_body, headers=customer.headers)
                    assert taken.status_code in (200, 201), taken.text
                    refused = b.post(path, json=long_body, headers=other.headers)
                    assert refused.status_code == 413, refused.text
                    assert refused.json()["code"] == "body_too_large"
    finally:
        other_db.dispose()


def test_the_route_table_is_built_once_per_process() -> None:
    assert surfaces() is surfaces()
    plan_only = Settings(database_url="sqlite://", demo=False)
    assert create_app(plan_only, dispatch=False).openapi() is surfaces().openapi()
