"""Price plans: the list, a CSV import shown as a preview of what it changes before it is
applied, and the export.

The preview page carries the card back in hidden fields, so that nothing is stored between
the two steps; the apply is refused when the plan changed meanwhile
(``pricing.changes.apply_previewed``). A form field is limited to 1 MB by the form parser,
so the card travels in chunks of whole lines.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Path, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smsgate.dashboard.pages._admin_common import PAGE, who
from smsgate.dashboard.web import Operator, page_router, render, runtime, see_other
from smsgate.errors import InvalidRequest
from smsgate.pricing import admin as pricing_admin
from smsgate.pricing import changes
from smsgate.pricing.service import RateFileError
from smsgate.surfaces.deps import MAX_BIG_ID

router = page_router()
PlanName = Annotated[str, Form(min_length=1, max_length=100)]
CHUNK_BYTES = 150_000  # a urlencoded chunk stays under the parser's 1 MB, whatever it holds
SHOWN = 500  # rows of each kind of change on the preview; the counts are always whole


@router.get("/admin/plans")
def plans(
    request: Request,
    viewer: Operator,
    offset: Annotated[int, Query(ge=0, le=MAX_BIG_ID)] = 0,
    done: str = "",
    plan: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    with runtime(request).db.read() as session:
        rows, total = pricing_admin.list_plans(session, limit=PAGE, offset=offset)
        names = [s.plan.name for s in pricing_admin.list_plans(session, limit=500)[0]]
    context = {
        "rows": rows,
        "total": total,
        "names": names,
        "offset": offset,
        "page": PAGE,
        "done": done,
        "plan": plan,
    }
    return render(request, "admin/plans.html", context)


def _decoded(raw: bytes) -> str:
    try:
        return _lf(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RateFileError(f"line {line}: not UTF-8 text (byte {exc.start})") from None


def _lf(text: str) -> str:
    # Browsers send form fields back with CRLF line ends; both steps read the same text.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        length = len(line.encode())
        if current and size + length > CHUNK_BYTES:
            out.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += length
    return [*out, "".join(current)]


@router.post("/admin/plans/preview")
async def preview(request: Request, viewer: Operator, name: PlanName, card: UploadFile) -> Response:
    text = _decoded(await card.read())
    name = name.strip()
    db = runtime(request).db

    def compare() -> changes.RateChanges:
        with db.read() as session:
            return changes.preview_import(session, name, text)

    found = await run_in_threadpool(compare)
    context = {"changes": found, "chunks": _chunks(text), "shown": SHOWN, "filename": card.filename}
    return render(request, "admin/plan_preview.html", context)


@router.post("/admin/plans/import")
def apply(
    request: Request,
    viewer: Operator,
    name: PlanName,
    card: Annotated[list[str], Form()],
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    if version and not version.isdigit():
        raise InvalidRequest("version is the plan's version number", field="version")
    text = _lf("".join(card))
    with runtime(request).db.write() as session:
        changes.apply_previewed(
            session,
            name,
            text,
            version=int(version) if version else None,
            **who(request, viewer),
        )
    return see_other(f"/admin/plans?done=imported&plan={quote(name)}")


@router.get("/admin/plans/{name}/rates.csv")
def export(
    request: Request,
    viewer: Operator,
    name: Annotated[str, Path(min_length=1, max_length=100)],
) -> Response:
    with runtime(request).db.read() as session:
        text = pricing_admin.export_rates(session, name)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "plan"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}-rates.csv"',
            "Cache-Control": "no-store",
        },
    )
