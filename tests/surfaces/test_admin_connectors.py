"""Connectors and routes in the admin API, with live health and /metrics, over real HTTP."""

from __future__ import annotations

import re
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from smsgate.db import Database
from tests.support.factories import make_customer
from tests.support.npm_smsc import running_smsc
from tests.support.waiting import wait_for
from tests.surfaces.test_admin_support import (
    assert_audited,
    audit_entries,
    make_operator,
    ok,
    problem,
)

SECRET = "hush1234"  # an SMPP password is at most 8 characters


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _connectors(client: httpx.Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    body = ok(client.get("/v1/admin/connectors", headers=headers))
    return {c["name"]: c for c in body["connectors"]}


def _gauge(text: str, metric: str, connector: str) -> float | None:
    found = re.search(rf'^{metric}{{connector="{re.escape(connector)}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def test_connectors_are_added_listed_with_health_and_removed(
    db: Database, client: httpx.Client, npm_smpp: Path
) -> None:
    op = make_operator(db)
    with running_smsc(npm_smpp) as smsc:
        made = ok(
            client.post(
                "/v1/admin/connectors",
                headers=op.headers,
                json={
                    "name": "up",
                    "kind": "smpp",
                    "options": {
                        "host": "127.0.0.1",
                        "port": smsc.port,
                        "system_id": "gw",
                        "binds": 2,
                        "window": 7,
                    },
                    "secret": SECRET,
                },
            ),
            201,
        )
        assert made["has_secret"] is True and made["live"] is False
        assert SECRET not in str(made)
        ok(
            client.post(
                "/v1/admin/connectors",
                headers=op.headers,
                json={
                    "name": "down",
                    "kind": "smpp",
                    "options": {
                        "host": "127.0.0.1",
                        "port": _closed_port(),
                        "system_id": "gw",
                        "connect_timeout": 0.5,
                        "reconnect_min": 0.2,
                    },
                    "secret": SECRET,
                },
            ),
            201,
        )
        entry = assert_audited(db, op, "connector.add", "connector:up")
        assert SECRET not in entry.details and '"kind": "smpp"' in entry.details
        problem(
            client.post(
                "/v1/admin/connectors",
                headers=op.headers,
                json={"name": "up", "kind": "simulator"},
            ),
            422,
            "duplicate",
        )
        problem(
            client.post(
                "/v1/admin/connectors", headers=op.headers, json={"name": "x", "kind": "pigeon"}
            ),
            422,
            "invalid_request",
        )

        # the dispatcher picks both up within its 2 s reload; one binds, one cannot
        def both_live() -> dict[str, dict[str, Any]] | None:
            found = _connectors(client, op.headers)
            up = found.get("up", {})
            ready = up.get("live") and up["health"]["bound"] == 2 and found["down"]["live"]
            return found if ready else None

        found = wait_for(both_live, timeout=15)
        up, down = found["up"], found["down"]
        assert SECRET not in str(found)
        assert up["healthy"] is True and up["has_secret"] is True
        assert up["health"]["binds"] == 2 and up["health"]["window"] == 14
        assert up["window_use"] == 0.0
        assert up["options"]["window"] == 7
        assert down["healthy"] is False and down["health"]["bound"] == 0
        assert down["health"]["last_error"]
        assert found["simulator"]["kind"] == "built-in" and found["simulator"]["healthy"]
        assert up["activity"] == {
            "window_seconds": 60,
            "submitted": 0,
            "rejected": 0,
            "delivered": 0,
            "undeliverable": 0,
            "throughput": 0.0,
            "error_rate": 0.0,
        }

        metrics = client.get("/metrics").text
        assert _gauge(metrics, "smsgate_connector_up", "up") == 1
        assert _gauge(metrics, "smsgate_connector_up", "down") == 0
        assert _gauge(metrics, "smsgate_connector_up", "simulator") == 1
        assert _gauge(metrics, "smsgate_connector_bound_binds", "up") == 2
        assert _gauge(metrics, "smsgate_connector_bound_binds", "down") == 0
        assert _gauge(metrics, "smsgate_connector_in_flight", "up") == 0

        # traffic through "up" shows in its activity of the last minute
        c = make_customer(db, balance=Decimal("5"))
        ok(client.post("/v1/admin/routes", headers=op.headers, json={"connectors": "up"}), 201)
        time.sleep(2.5)  # the API's and the dispatcher's route tables reload every 2 s
        sent = client.post(
            "/v1/messages",
            headers=c.headers,
            json={"to": [f"+3712612{n:04d}" for n in range(5)], "text": "hi", "sender": c.sender},
        )
        assert sent.status_code == 200, sent.text

        def counted() -> dict[str, Any] | None:
            activity: dict[str, Any] = _connectors(client, op.headers)["up"]["activity"]
            return activity if activity["delivered"] == 5 else None

        activity = wait_for(counted, timeout=20)
        assert activity["submitted"] == 5 and activity["rejected"] == 0
        assert activity["throughput"] == round(5 / 60, 3) and activity["error_rate"] == 0.0

        answer = client.delete("/v1/admin/connectors/down", headers=op.headers)
        assert answer.status_code == 204, answer.text
        assert_audited(db, op, "connector.remove", "connector:down")
        problem(
            client.delete("/v1/admin/connectors/down", headers=op.headers),
            404,
            "connector_not_found",
        )
        wait_for(lambda: "down" not in _connectors(client, op.headers), timeout=10)
        wait_for(
            lambda: _gauge(client.get("/metrics").text, "smsgate_connector_up", "down") is None,
            timeout=10,
        )


def test_routes_are_added_listed_and_removed(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    assert ok(client.get("/v1/admin/routes", headers=op.headers)) == {"routes": []}
    first = ok(
        client.post(
            "/v1/admin/routes",
            headers=op.headers,
            json={
                "connectors": "a:3,b",
                "strategy": "weighted",
                "priority": 10,
                "country": "LV",
                "prefix": "3712",
            },
        ),
        201,
    )
    assert first["connectors"] == "a:3,b" and first["strategy"] == "weighted"
    assert first["country"] == "LV" and first["prefix"] == "3712" and first["mcc"] is None
    entry = assert_audited(db, op, "route.add", f"route:{first['id']}")
    assert '"country": "LV"' in entry.details
    second = ok(client.post("/v1/admin/routes", headers=op.headers, json={"connectors": "c"}), 201)
    assert second["priority"] == 100 and second["strategy"] == "priority"
    listed = ok(client.get("/v1/admin/routes", headers=op.headers))["routes"]
    assert [r["id"] for r in listed] == [first["id"], second["id"]]

    problem(
        client.post("/v1/admin/routes", headers=op.headers, json={"connectors": "a:x"}),
        422,
        "invalid_request",
    )
    problem(
        client.post(
            "/v1/admin/routes", headers=op.headers, json={"connectors": "a", "colour": "red"}
        ),
        422,
        "invalid_request",
    )
    assert len(audit_entries(db, "route.add")) == 2

    answer = client.delete(f"/v1/admin/routes/{first['id']}", headers=op.headers)
    assert answer.status_code == 204, answer.text
    assert_audited(db, op, "route.remove", f"route:{first['id']}")
    problem(
        client.delete(f"/v1/admin/routes/{first['id']}", headers=op.headers),
        404,
        "route_not_found",
    )
    listed = ok(client.get("/v1/admin/routes", headers=op.headers))["routes"]
    assert [r["id"] for r in listed] == [second["id"]]
