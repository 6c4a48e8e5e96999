"""The admin API's price plans, rate cards and connectors' cost plans, over real HTTP."""

from __future__ import annotations

import csv
import io
import json

import httpx

from smsgate.db import Database
from tests.support.factories import DEFAULT_RATES, make_customer
from tests.surfaces.test_admin_support import assert_audited, make_operator, ok, problem

CSV = {"Content-Type": "text/csv"}


def _put_rates(
    client: httpx.Client, headers: dict[str, str], name: str, text: str | bytes
) -> httpx.Response:
    return client.put(f"/v1/admin/plans/{name}/rates", headers={**headers, **CSV}, content=text)


def test_plans_create_list_and_refund_policy(db: Database, client: httpx.Client, plan: str) -> None:
    op = make_operator(db)
    make_customer(db)
    made = ok(
        client.post(
            "/v1/admin/plans",
            headers=op.headers,
            json={"name": "premium", "refund_undeliverable": True},
        ),
        201,
    )
    assert made["name"] == "premium" and made["refund_undeliverable"] is True
    assert made["rates"] == 0 and made["accounts"] == 0
    assert_audited(db, op, "plan.create", "plan:premium")
    problem(
        client.post("/v1/admin/plans", headers=op.headers, json={"name": "premium"}),
        422,
        "plan_exists",
    )
    problem(
        client.post("/v1/admin/plans", headers=op.headers, json={"name": "a/b"}),
        422,
        "invalid_request",
    )

    page = ok(client.get("/v1/admin/plans", headers=op.headers))
    assert page["total"] == 2
    by_name = {p["name"]: p for p in page["plans"]}
    assert by_name[plan]["rates"] == 6 and by_name[plan]["accounts"] == 1
    first = ok(client.get("/v1/admin/plans", headers=op.headers, params={"limit": 1, "offset": 1}))
    assert [p["name"] for p in first["plans"]] == ["standard"]

    patched = ok(
        client.patch(
            "/v1/admin/plans/premium", headers=op.headers, json={"refund_undeliverable": False}
        )
    )
    assert patched["refund_undeliverable"] is False
    entry = assert_audited(db, op, "plan.set_refund_policy", "plan:premium")
    assert json.loads(entry.details) == {"refund_undeliverable": False, "previous": True}
    assert ok(client.get("/v1/admin/plans/premium", headers=op.headers)) == patched
    problem(client.get("/v1/admin/plans/nope", headers=op.headers), 404, "plan_not_found")
    problem(
        client.patch(
            "/v1/admin/plans/nope", headers=op.headers, json={"refund_undeliverable": True}
        ),
        404,
        "plan_not_found",
    )


def test_rate_import_names_the_bad_line_and_changes_nothing(
    db: Database, client: httpx.Client, plan: str
) -> None:
    op = make_operator(db)
    c = make_customer(db)
    bad = "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n247,01,Latvia,LMT,cheap\n"
    body = problem(_put_rates(client, op.headers, plan, bad), 422, "invalid_rate_file")
    assert body["detail"].startswith("line 3:") and "cheap" in body["detail"]
    body = problem(
        _put_rates(client, op.headers, plan, "mcc,mnc,country,network,price\n24,,X,,1\n"),
        422,
        "invalid_rate_file",
    )
    assert body["detail"].startswith("line 2:")
    problem(_put_rates(client, op.headers, plan, "mcc,price\n247,1\n"), 422, "invalid_rate_file")
    problem(
        _put_rates(client, op.headers, plan, b"mcc,mnc,country,network,price\n247,,\xff,,1\n"),
        422,
        "invalid_rate_file",
    )
    problem(
        client.put(f"/v1/admin/plans/{plan}/rates", headers=op.headers, json={"rates": []}),
        415,
        "unsupported_media_type",
    )
    rates = ok(client.get("/v1/rates", headers=c.headers))["rates"]
    assert len(rates) == 6  # untouched


def test_export_round_trips_through_import(db: Database, client: httpx.Client, plan: str) -> None:
    op = make_operator(db)
    c = make_customer(db)
    exported = client.get(f"/v1/admin/plans/{plan}/rates.csv", headers=op.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    original = list(csv.DictReader(io.StringIO(DEFAULT_RATES)))
    assert len(rows) == len(original) and list(rows[0]) == list(original[0])
    before = ok(client.get("/v1/rates", headers=c.headers))["rates"]

    # into a new plan (created by the import), and back out unchanged
    imported = ok(_put_rates(client, op.headers, "copy", exported.content))
    assert imported["name"] == "copy" and imported["rates"] == len(original)
    again = client.get("/v1/admin/plans/copy/rates.csv", headers=op.headers)
    assert again.text == exported.text
    # re-importing over the plan itself changes nothing the customer sees but the version
    version = ok(client.get(f"/v1/admin/plans/{plan}", headers=op.headers))["version"]
    after = ok(_put_rates(client, op.headers, plan, exported.text))
    assert after["version"] == version + 1
    assert ok(client.get("/v1/rates", headers=c.headers))["rates"] == before
    entry = assert_audited(db, op, "plan.import", f"plan:{plan}")
    assert json.loads(entry.details) == {"rates": len(original)}
    problem(client.get("/v1/admin/plans/nope/rates.csv", headers=op.headers), 404, "plan_not_found")


def test_export_neutralises_formulas(db: Database, client: httpx.Client) -> None:
    op = make_operator(db)
    card = (
        "mcc,mnc,country,network,price\n"
        '238,,"=HYPERLINK(""http://evil.example"",""x"")",+45 net,0.045\n'
        "238,01,@SUM(A1),-cmd,0.04\n"
        "250,,Russia,MTS,0.07\n"
    )
    ok(_put_rates(client, op.headers, "risky", card))
    exported = client.get("/v1/admin/plans/risky/rates.csv", headers=op.headers).text
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert '\'=HYPERLINK("http://evil.example","x")' in cells
    assert {"'+45 net", "'@SUM(A1)", "'-cmd", "Russia"} <= set(cells)
    # importing the export gives back the original text, not the quoted one
    ok(_put_rates(client, op.headers, "risky2", exported))
    again = client.get("/v1/admin/plans/risky2/rates.csv", headers=op.headers).text
    assert again == exported


def test_connector_cost_plans(db: Database, client: httpx.Client, plan: str) -> None:
    op = make_operator(db)
    assert ok(client.get("/v1/admin/connectors/cost-plans", headers=op.headers)) == {
        "cost_plans": []
    }
    ok(client.post("/v1/admin/plans", headers=op.headers, json={"name": "upstream-a"}), 201)
    set_ = ok(
        client.put(
            "/v1/admin/connectors/simulator/cost-plan", headers=op.headers, json={"plan": plan}
        )
    )
    assert set_ == {"connector": "simulator", "plan": plan}
    ok(
        client.put(
            "/v1/admin/connectors/smpp-a/cost-plan", headers=op.headers, json={"plan": "upstream-a"}
        )
    )
    ok(
        client.put(
            "/v1/admin/connectors/simulator/cost-plan",
            headers=op.headers,
            json={"plan": "upstream-a"},
        )
    )
    listed = ok(client.get("/v1/admin/connectors/cost-plans", headers=op.headers))
    assert listed["cost_plans"] == [
        {"connector": "simulator", "plan": "upstream-a"},
        {"connector": "smpp-a", "plan": "upstream-a"},
    ]
    entry = assert_audited(db, op, "connector.set_cost_plan", "connector:simulator")
    assert json.loads(entry.details) == {"plan": "upstream-a", "previous": plan}
    problem(
        client.put(
            "/v1/admin/connectors/simulator/cost-plan", headers=op.headers, json={"plan": "x"}
        ),
        404,
        "plan_not_found",
    )
    assert (
        client.delete("/v1/admin/connectors/smpp-a/cost-plan", headers=op.headers).status_code
        == 204
    )
    assert_audited(db, op, "connector.remove_cost_plan", "connector:smpp-a")
    problem(
        client.delete("/v1/admin/connectors/smpp-a/cost-plan", headers=op.headers),
        404,
        "cost_plan_not_found",
    )
    assert (
        len(ok(client.get("/v1/admin/connectors/cost-plans", headers=op.headers))["cost_plans"])
        == 1
    )
