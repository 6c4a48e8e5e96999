"""Recipient lists uploaded as CSV or XLSX, read in the background with progress.

The page sends the file, gets an upload id at once and polls ``progress``; meanwhile
``process`` reads the file row by row (CSV through the ``csv`` module, XLSX through
openpyxl's read-only, streaming mode), resolves every number with ``numbering.resolve``
(the same check a send makes), drops repeated numbers, and writes its progress about three
times a second. The result keeps the valid numbers, a sample of the invalid ones with the
reason, and one number per destination with its count, which is all a price quote needs.

Which column: the first whose header reads like a phone number (``phone``, ``number``,
``msisdn``, ``to``, ``recipient``, ``mobile``, ``tel``, ``телефон``, ``номер``), else the
first column; a first row with letters in that column is a header and is skipped.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsgate.dashboard.models import RecipientUpload
from smsgate.db import Database
from smsgate.errors import InvalidRequest, NotFound
from smsgate.kit.time import utcnow
from smsgate.numbering import Destination, InvalidNumber, resolve

log = structlog.get_logger(__name__)

SAMPLE = 50  # invalid rows kept to show
KEEP = timedelta(days=1)  # uploads older than this are deleted when a new one starts
_WRITE_EVERY = 0.3  # seconds between progress writes
_HEADERS = ("phone", "number", "msisdn", "to", "recipient", "mobile", "tel", "телефон", "номер")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls


class UploadError(InvalidRequest):
    code = "invalid_upload"


@dataclass(slots=True)
class Tally:
    """What has been read so far."""

    rows: int = 0
    numbers: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    invalid: int = 0
    duplicates: int = 0
    sample: list[tuple[int, str, str]] = field(default_factory=list)
    # per destination: one of its numbers and how many there are
    destinations: dict[tuple[str, str | None, str | None], tuple[str, int]] = field(
        default_factory=dict
    )

    def add(self, row: int, raw: str) -> None:
        self.rows += 1
        try:
            dest = resolve(raw)
        except InvalidNumber as exc:
            self.invalid += 1
            if len(self.sample) < SAMPLE:
                self.sample.append((row, raw[:40], exc.reason))
            return
        if dest.msisdn in self.numbers:
            self.duplicates += 1
            return
        self.numbers[dest.msisdn] = None
        key = (dest.name, dest.mcc, dest.mnc)
        one, count = self.destinations.get(key, (dest.msisdn, 0))
        self.destinations[key] = (one, count + 1)


def start(session: Session, account_id: int, filename: str, now: datetime | None = None) -> int:
    now = now or utcnow()
    session.execute(
        delete(RecipientUpload).where(
            RecipientUpload.account_id == account_id, RecipientUpload.created_at < now - KEEP
        )
    )
    row = RecipientUpload(
        account_id=account_id, filename=filename[:200], created_at=now, updated_at=now
    )
    session.add(row)
    session.flush()
    return row.id


def get_upload(session: Session, account_id: int, upload_id: int) -> RecipientUpload:
    row = session.scalar(
        select(RecipientUpload).where(
            RecipientUpload.id == upload_id, RecipientUpload.account_id == account_id
        )
    )
    if row is None:
        raise NotFound(f"no upload with id {upload_id}", code="upload_not_found")
    return row


def ready_numbers(session: Session, account_id: int, upload_id: int) -> list[str]:
    row = get_upload(session, account_id, upload_id)
    if row.status != "ready":
        raise InvalidRequest(
            f"the file {row.filename!r} is still being read or could not be read",
            field="upload_id",
            code="upload_not_ready",
        )
    if not row.numbers:
        raise InvalidRequest(
            f"the file {row.filename!r} has no valid number", field="upload_id", code="no_numbers"
        )
    return row.numbers.split("\n")


def quote_destinations(row: RecipientUpload) -> list[Destination]:
    """A list that prices like the upload's numbers: each destination's one resolved
    number, as many times as the upload has numbers there (the price depends on the
    destination and the text only)."""
    found: list[Destination] = []
    for msisdn, count in json.loads(row.destinations):
        found.extend([resolve(msisdn)] * int(count))
    return found


def process(db: Database, upload_id: int, path: Path, max_rows: int) -> None:
    """Read the file at ``path`` (then deleted) into upload ``upload_id``."""
    tally = Tally()
    try:
        with path.open("rb") as raw:
            last = 0.0
            for row, text, done in _cells(raw):
                tally.add(row, text)
                if tally.rows > max_rows:
                    raise UploadError(f"the file has more than {max_rows} numbers")
                if time.monotonic() - last > _WRITE_EVERY:
                    _save(db, upload_id, tally, done)
                    last = time.monotonic()
        _save(db, upload_id, tally, 1.0, status="ready")
    except UploadError as exc:
        _save(db, upload_id, tally, 1.0, status="failed", error=exc.message)
    except Exception as exc:  # a damaged file can fail anywhere in csv or openpyxl
        log.info("upload unreadable", upload_id=upload_id, error=repr(exc))
        why = f"the file cannot be read as CSV or XLSX ({type(exc).__name__}: {exc})"
        _save(db, upload_id, tally, 1.0, status="failed", error=why)
    finally:
        path.unlink(missing_ok=True)


def _save(
    db: Database,
    upload_id: int,
    tally: Tally,
    done: float,
    *,
    status: str = "reading",
    error: str = "",
) -> None:
    with db.write() as session:
        row = session.get(RecipientUpload, upload_id)
        if row is None:
            return
        row.progress = min(int(done * 1000), 1000)
        row.rows, row.valid, row.invalid = tally.rows, len(tally.numbers), tally.invalid
        row.duplicates = tally.duplicates
        row.invalid_sample = json.dumps(tally.sample, ensure_ascii=False)
        row.status, row.error, row.updated_at = status, error[:500], utcnow()
        if status == "ready":
            row.numbers = "\n".join(tally.numbers)
            row.destinations = json.dumps(list(tally.destinations.values()))


def _cells(raw: IO[bytes]) -> Iterator[tuple[int, str, float]]:
    """(row number, the number's cell as text, share of the file read) for every row."""
    head = raw.read(4)
    raw.seek(0)
    if head == _OLE:
        raise UploadError("old .xls files are not read; save the sheet as .xlsx or .csv")
    if head == _ZIP:
        yield from _xlsx_cells(raw)
    else:
        yield from _csv_cells(raw)


def _pick_column(first: list[str]) -> tuple[int, bool]:
    """The number column and whether the first row is a header."""
    lowered = [cell.strip().lower() for cell in first]
    for index, cell in enumerate(lowered):
        if cell in _HEADERS:
            return index, True
    return 0, bool(lowered and any(c.isalpha() for c in lowered[0]))


def _csv_cells(raw: IO[bytes]) -> Iterator[tuple[int, str, float]]:
    size = max(raw.seek(0, io.SEEK_END), 1)
    raw.seek(0)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    sample = text.read(4096)
    text.seek(0)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:
        dialect = csv.excel
    column = -1
    try:
        for number, cells in enumerate(csv.reader(text, dialect), start=1):
            if column < 0:
                column, header = _pick_column(cells)
                if header:
                    continue
            if len(cells) > column and cells[column].strip():
                yield number, cells[column], raw.tell() / size
    finally:
        text.detach()  # the caller closes the file


def _xlsx_cells(raw: IO[bytes]) -> Iterator[tuple[int, str, float]]:
    # imported here: openpyxl is a third of a second of every process's start-up, and only
    # an uploaded workbook needs it
    from openpyxl import load_workbook

    book = load_workbook(raw, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        total = max(sheet.max_row or 1, 1)
        column = -1
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if column < 0:
                column, header = _pick_column(cells)
                if header:
                    continue
            if len(cells) > column and cells[column].strip():
                yield number, cells[column], min(number / total, 1.0)
    finally:
        book.close()


def _cell_text(value: object) -> str:
    # A spreadsheet keeps 37120000000 as a number, often a float; never show "3.712e+10".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
