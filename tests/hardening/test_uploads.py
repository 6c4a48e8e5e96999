"""Uploads and CSV exports.

Rate cards sent to the admin API (malformed, binary, not UTF-8, over the body limit, the
wrong media type) are refused in problem+json and leave the plan as it was. The recipients
upload of the dashboard refuses a file over the limit in its JSON shape and reports a file it
cannot read. Every CSV export smsgate produces (the ledger statement, the plan export of the
admin API and of the dashboard, the dashboard's message history) neutralises cells that a
spreadsheet would run as formulas (``=cmd|' /C calc'!A0``, ``+``, ``-``, ``@``, a leading
tab or carriage return).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.dashboard.sessions import Lifetime, open_session
from smsgate.dashboard.users import create_user
from smsgate.dashboard.web import SESSION_COOKIE
from smsgate.kit.csvsafe import unneutralise
from smsgate.kit.time import utcnow
from tests.hardening.conftest import BODY_LIMIT, Gate
from tests.hardening.fuzzing import FUZZ, HUGE, check, problem_shape
from tests.support.waiting import wait_for

LIFETIME = Lifetime.of(3600, 3600)
PASSWORD = "correct horse battery"
CARD = "mcc,mnc,country,network,price\n247,,Latvia,,0.04\n247,01,Latvia,LMT,0.03\n"
# What spreadsheets run (Excel, LibreOffice, Google Sheets), and what hides a trigger.
FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]
MALFORMED = [
    b"",
    b"mcc,mnc,country,network\n247,,Latvia,,\n",  # no price column
    b"price\n0.04\n",
    b"mcc,mnc,country,network,price\n",  # a header and no rates
    b"mcc,mnc,country,network,price\n24,,Latvia,,0.04\n",
    b"mcc,mnc,country,network,price\n247,1,Latvia,,0.04\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,0,04\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,-1\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,NaN\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,1e400\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,\n",
    b"mcc,mnc,country,network,price\n247,,Latvia,,0.04\n247,,Latvia,,0.05\n",  # twice
    b"mcc,mnc,country,network,price\n*,01,any,,0.04\n",
    b'mcc,mnc,country,network,price\n247,,"Latvia,,0.04\n',  # an unclosed quote
    b"mcc,mnc,country,network,price\n\xb2\xb2\xb2,,Latvia,,0.04\n",
    "mcc,mnc,country,network,price\n²４７,,Latvia,,0.04\n".encode(),
    b"mcc,mnc,country,network,price\n247,,Lat\x00via,,0.04\n",
    b"mcc,mnc,country,network,price\n247,," + b"L" * 101 + b",,0.04\n",
    b"mcc,mnc,country,network,price\n247,," + b"x" * 200_000 + b",,0.04\n",  # csv field limit
    b"\xff\xfe\x00m\x00c\x00c",  # UTF-16
    b"mcc,mnc,country,network,price\n247,,Lat\xffvia,,0.04\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"PK\x03\x04\x14\x00\x00\x00",  # a zip (an .xlsx)
]


def _admin(gate: Gate, content_type: str = "text/csv") -> dict[str, str]:
    return gate.operator_headers | {"Content-Type": content_type}


def _import(http: httpx.Client, gate: Gate, plan: str, body: bytes, **kw: str) -> httpx.Response:
    return http.put(f"/v1/admin/plans/{plan}/rates", content=body, headers=_admin(gate, **kw))


def _export(http: httpx.Client, gate: Gate, plan: str) -> str:
    answer = http.get(f"/v1/admin/plans/{plan}/rates.csv", headers=gate.operator_headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return answer.text


def test_malformed_rate_cards_are_refused_and_change_nothing(
    http: httpx.Client, gate: Gate
) -> None:
    assert _import(http, gate, "uploads", CARD.encode()).status_code == 200
    before = _export(http, gate, "uploads")
    for body in MALFORMED:
        answer = _import(http, gate, "uploads", body)
        assert 400 <= answer.status_code < 500, (body[:60], answer.text)
        problem_shape(answer)
        assert answer.json()["code"] in ("invalid_rate_file", "body_too_large"), answer.text
    assert _export(http, gate, "uploads") == before  # no bad card replaced a rate


def test_a_rate_card_of_another_media_type_is_415(http: httpx.Client, gate: Gate) -> None:
    for kind in ("application/json", "application/octet-stream", "multipart/form-data"):
        answer = _import(http, gate, "uploads", CARD.encode(), content_type=kind)
        assert answer.status_code == 415, answer.text
        problem_shape(answer)


def test_a_rate_card_over_the_body_limit_is_413(http: httpx.Client, gate: Gate) -> None:
    assert HUGE > BODY_LIMIT
    rows = "".join(f"{mcc},,Country {mcc},,0.01\n" for mcc in range(100, 1000))
    body = (CARD + rows * (HUGE // len(rows) + 1)).encode()
    assert len(body) > BODY_LIMIT
    answer = _import(http, gate, "huge", body)
    assert answer.status_code == 413, answer.text
    problem_shape(answer)
    assert http.get("/v1/admin/plans/huge", headers=gate.operator_headers).status_code == 404


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_bytes_as_a_rate_card(http: httpx.Client, gate: Gate, body: bytes) -> None:
    check(_import(http, gate, "fuzzed", CARD.encode() + body), problem_shape)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _assert_neutralised(cell: str, original: str) -> None:
    """A spreadsheet shows the cell as text, and the original comes back unchanged."""
    assert cell.startswith("'"), cell
    assert unneutralise(cell) == original


def _card(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([["mcc", "mnc", "country", "network", "price"], *rows])
    return out.getvalue()


def test_the_plan_export_neutralises_formulas(http: httpx.Client, gate: Gate) -> None:
    card = _card([[str(300 + i), "", f, f, "0.01"] for i, f in enumerate(FORMULAS)])
    assert _import(http, gate, "formulas", card.encode()).status_code == 200
    exported = _export(http, gate, "formulas")
    by_mcc = {r["mcc"]: r for r in _rows(exported)}
    for mcc, formula in zip(range(300, 400), FORMULAS, strict=False):
        row = by_mcc[str(mcc)]
        # the import trims, and reads a cell quoted as an export quotes it as the export's
        original = unneutralise(formula.strip())
        for column in ("country", "network"):
            _assert_neutralised(row[column], original)
    # the export imports back to the same plan
    assert _import(http, gate, "formulas", exported.encode()).status_code == 200
    assert _export(http, gate, "formulas") == exported


def test_the_ledger_statement_neutralises_formulas(http: httpx.Client, gate: Gate) -> None:
    account = gate.customer.account_id
    for reason in FORMULAS:
        answer = http.post(
            f"/v1/admin/accounts/{account}/topups",
            json={"amount": "0.01", "reason": reason},
            headers=gate.operator_headers,
        )
        assert answer.status_code == 201, answer.text
    statement = http.get("/v1/ledger.csv", headers=gate.customer.headers)
    assert statement.status_code == 200 and statement.headers["content-type"].startswith("text/")
    rows = _rows(statement.text)
    described = [r["description"] for r in rows if unneutralise(r["description"]) in FORMULAS]
    assert len(described) >= len({f.strip() for f in FORMULAS}) - 1, described
    for cell in described:
        _assert_neutralised(cell, unneutralise(cell))
    for row in rows:  # signed amounts stay numbers a spreadsheet can sum
        assert re.fullmatch(r"-?\d+\.\d+", row["amount"]), row


# --- the dashboard ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_session(gate: Gate) -> Iterator[httpx.Client]:
    """An httpx client signed in to the dashboard as the gate's customer, as a browser is."""
    with gate.db.write() as session:
        user = create_user(
            session, "fuzz@example.com", PASSWORD, account_id=gate.customer.account_id
        )
        secret = open_session(session, user, LIFETIME, utcnow())
    with httpx.Client(base_url=gate.url, cookies={SESSION_COOKIE: secret}, timeout=30) as client:
        yield client


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app/send").text)
    assert found, "the send page has no CSRF token"
    return found.group(1)


def _dashboard_json_error(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] and error["message"], error


def test_the_dashboard_refuses_an_upload_over_the_body_limit(
    browser_session: httpx.Client,
) -> None:
    token = _csrf(browser_session)
    body = b"phone\n" + b"+37126123456\n" * (HUGE // 13 + 1)
    answer = browser_session.post(
        "/app/api/uploads",
        files={"file": ("big.csv", body, "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    _dashboard_json_error(answer, 413)


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff\xfe" * 500, b"PK\x03\x04junk", b"\xd0\xcf\x11\xe0old xls", b'"unclosed\n1,2'],
    ids=["binary", "broken-xlsx", "old-xls", "unclosed-quote"],
)
def test_the_dashboard_reports_an_unreadable_upload(
    browser_session: httpx.Client, content: bytes
) -> None:
    token = _csrf(browser_session)
    answer = browser_session.post(
        "/app/api/uploads",
        files={"file": ("list.csv", content, "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 202, answer.text
    upload = answer.json()["id"]

    def finished() -> dict[str, Any] | None:
        state: dict[str, Any] = browser_session.get(f"/app/api/uploads/{upload}").json()
        return state if state["status"] != "reading" else None

    state = wait_for(finished)
    assert state["status"] in ("failed", "ready"), state
    assert state["status"] == "failed" or state["valid"] == 0, state


def test_the_dashboard_history_export_neutralises_formulas(
    http: httpx.Client, gate: Gate, browser_session: httpx.Client
) -> None:
    for text in FORMULAS:
        body = {"to": "+37126123456", "text": text, "sender": gate.customer.sender}
        assert http.post("/v1/messages", json=body, headers=gate.customer.headers).is_success
    export = browser_session.get("/app/messages.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    texts = [r["text"] for r in _rows(export.text) if unneutralise(r["text"]) in FORMULAS]
    assert len(texts) >= len(FORMULAS) - 1, texts
    for cell in texts:
        _assert_neutralised(cell, unneutralise(cell))


def test_the_dashboard_plan_export_neutralises_formulas(http: httpx.Client, gate: Gate) -> None:
    with gate.db.write() as session:
        operator = create_user(session, "op-fuzz@example.com", PASSWORD, operator=True)
        secret = open_session(session, operator, LIFETIME, utcnow())
    card = _card([[str(500 + i), "", f, "", "0.01"] for i, f in enumerate(FORMULAS)])
    assert _import(http, gate, "dashboard-formulas", card.encode()).status_code == 200
    with httpx.Client(base_url=gate.url, cookies={SESSION_COOKIE: secret}) as admin:
        export = admin.get("/admin/plans/dashboard-formulas/rates.csv")
    assert export.status_code == 200, export.text
    cells = [r["country"] for r in _rows(export.text)]
    assert len(cells) == len(FORMULAS)
    for cell in cells:
        _assert_neutralised(cell, unneutralise(cell))
    assert Decimal(_rows(export.text)[0]["price"]) == Decimal("0.01")
