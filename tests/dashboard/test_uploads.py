"""Recipient files: CSV and XLSX read in the background, with progress and a preview."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from smsgate.dashboard import uploads
from smsgate.db import Database
from smsgate.errors import NotFound
from tests.dashboard.conftest import Dashboard, csrf_of, http_sign_in
from tests.support.factories import make_customer


def _read(db: Database, account_id: int, path: Path) -> uploads.RecipientUpload:
    with db.write() as session:
        upload_id = uploads.start(session, account_id, path.name)
    uploads.process(db, upload_id, path, max_rows=1000)
    assert not path.exists()  # the spooled copy is removed
    with db.read() as session:
        return uploads.get_upload(session, account_id, upload_id)


def test_csv_with_a_header_semicolons_and_bad_rows(db: Database, plan: str, tmp_path: Path) -> None:
    account = make_customer(db).account_id
    path = tmp_path / "list.csv"
    path.write_text(
        "\ufeffName;Телефон\nAnn;+371 2000 0001\nBob;37120000002\nEve;12345\n"
        "Ann again;+37120000001\n;\nUz;+998 90 123 45 67\n",
        encoding="utf-8",
    )
    row = _read(db, account, path)
    assert (row.status, row.rows, row.valid, row.invalid, row.duplicates) == ("ready", 5, 3, 1, 1)
    assert row.numbers.split("\n") == ["37120000001", "37120000002", "998901234567"]
    ((line, text, why),) = json.loads(row.invalid_sample)
    assert (line, text) == (4, "12345") and why
    destinations = uploads.quote_destinations(row)
    assert sorted(d.country for d in destinations) == ["LV", "LV", "UZ"]
    with db.read() as session:
        assert uploads.ready_numbers(session, account, row.id) == row.numbers.split("\n")


def test_xlsx_numbers_stored_as_numbers(db: Database, plan: str, tmp_path: Path) -> None:
    account = make_customer(db).account_id
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "note"])
    sheet.append([37120000003, "an int"])
    sheet.append([37120000004.0, "a float, as spreadsheets keep it"])
    sheet.append(["+998901234568", "text"])
    sheet.append(["not a number", ""])
    path = tmp_path / "list.xlsx"
    book.save(path)
    row = _read(db, account, path)
    assert (row.status, row.valid, row.invalid) == ("ready", 3, 1)
    assert "37120000004" in row.numbers.split("\n")


def test_files_that_cannot_be_read(db: Database, plan: str, tmp_path: Path) -> None:
    account = make_customer(db).account_id
    old_excel = tmp_path / "old.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    row = _read(db, account, old_excel)
    assert row.status == "failed" and ".xlsx" in row.error
    broken_zip = tmp_path / "broken.xlsx"
    broken_zip.write_bytes(b"PK\x03\x04 not really a workbook")
    row = _read(db, account, broken_zip)
    assert row.status == "failed" and row.error
    too_many = tmp_path / "many.csv"
    too_many.write_text("".join(f"+3712{i:07d}\n" for i in range(1001)))
    row = _read(db, account, too_many)
    assert row.status == "failed" and "more than 1000" in row.error


def test_another_accounts_upload_is_not_found(db: Database, plan: str, tmp_path: Path) -> None:
    owner, other = make_customer(db).account_id, make_customer(db).account_id
    path = tmp_path / "list.csv"
    path.write_text("+37120000001\n")
    row = _read(db, owner, path)
    with pytest.raises(NotFound) as caught, db.read() as session:
        uploads.get_upload(session, other, row.id)
    assert caught.value.code == "upload_not_found"


def test_a_large_upload_reports_progress_without_blocking(
    http: httpx.Client, dashboard: Dashboard
) -> None:
    user = dashboard.customer()
    http_sign_in(http, user)
    token = csrf_of(http.get("/app/send").text)
    body = "phone\n" + "".join(f"+3712{i:07d}\n" for i in range(50_000))
    started = http.post(
        "/app/api/uploads",
        files={"file": ("big.csv", body.encode(), "text/csv")},
        headers={"X-CSRF-Token": token},
    )
    assert started.status_code == 202
    upload_id = started.json()["id"]
    seen: list[float] = []
    slowest = 0.0
    while True:
        before = time.monotonic()
        state = http.get(f"/app/api/uploads/{upload_id}").json()
        slowest = max(slowest, time.monotonic() - before)
        seen.append(state["progress"])
        if state["status"] != "reading":
            break
        time.sleep(0.1)
    assert state["status"] == "ready" and state["valid"] == 50_000, state
    # the server kept answering while it read the file, and the progress moved
    assert len({p for p in seen if 0 < p < 1}) >= 2, seen
    assert slowest < 3.0
    quoted = http.post(
        "/app/api/quote",
        json={"text": "Hello", "upload_id": upload_id},
        headers={"X-CSRF-Token": token},
    ).json()
    assert quoted["numbers"] == 50_000
    assert sum(line["numbers"] for line in quoted["lines"]) == 50_000
