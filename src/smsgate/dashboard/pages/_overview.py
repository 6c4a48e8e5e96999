"""The overview: balances, spend, messages by status and the delivery rate over time."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from smsgate.billing import ledger
from smsgate.dashboard import queries as dashboard_queries
from smsgate.dashboard.web import (
    Bar,
    Customer,
    account_of,
    formatter,
    gettext_for,
    page_router,
    rate_bars,
    render,
    runtime,
)
from smsgate.kit.time import utcnow
from smsgate.messaging import queries
from smsgate.messaging.status import MessageStatus

router = page_router()


@router.get("/app")
def overview(request: Request, viewer: Customer) -> Response:
    account_id, now = account_of(viewer), utcnow()
    with runtime(request).db.read() as session:
        balances = ledger.balances(session, account_id)
        stats = queries.statistics(session, account_id, viewer.timezone, now)
        days = dashboard_queries.delivery_by_day(session, account_id, viewer.timezone, now)
    fmt, _ = formatter(request), gettext_for(request)
    bars = [
        Bar(
            fmt.day(d.start, "d.M" if fmt.locale == "ru" else "M/d"),
            d.rate,
            _("%(day)s: %(rate)s delivered (%(delivered)s of %(judged)s)")
            % {
                "day": fmt.day(d.start),
                "rate": fmt.percent(d.rate),
                "delivered": fmt.number(d.delivered),
                "judged": fmt.number(d.delivered + d.failed),
            },
        )
        for d in days
    ]
    chart = rate_bars(
        bars,
        caption=_("Delivery rate per day, last 14 days"),
        empty=_("No delivered or failed messages yet"),
    )
    context = {
        "balances": balances,
        "stats": stats,
        "statuses": [s.value for s in MessageStatus],
        "days": days,
        "chart": chart,
    }
    return render(request, "app/overview.html", context)
