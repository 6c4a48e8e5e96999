"""The dashboard's foundation, for whoever adds a page (see docs/dashboard.md).

    router = page_router()                      # signed-in pages; page_router(public=True)

    @router.get("/app/things")
    def things(request: Request, viewer: Customer) -> Response:
        with runtime(request).db.read() as session:
            rows = some_domain.list_things(session, account_of(viewer))
        return render(request, "app/things.html", {"rows": rows})

``Customer``/``Operator``/``SignedIn`` check the viewer's role; CSRF, sessions and error
pages are handled by the route class, so a handler only calls the core and renders.
"""

from smsgate.dashboard._charts import Bar, rate_bars
from smsgate.dashboard._i18n import Formatter
from smsgate.dashboard._render import formatter, gettext_for, render, viewer
from smsgate.dashboard._routing import (
    CUSTOMER_HOME,
    OPERATOR_HOME,
    SESSION_COOKIE,
    Customer,
    DashboardState,
    Operator,
    SignedIn,
    account_of,
    page_router,
    safe_next,
    see_other,
    state,
)
from smsgate.dashboard.sessions import Viewer
from smsgate.surfaces.deps import client_address, runtime

__all__ = [
    "CUSTOMER_HOME",
    "OPERATOR_HOME",
    "SESSION_COOKIE",
    "Bar",
    "Customer",
    "DashboardState",
    "Formatter",
    "Operator",
    "SignedIn",
    "Viewer",
    "account_of",
    "client_address",
    "formatter",
    "gettext_for",
    "page_router",
    "rate_bars",
    "render",
    "runtime",
    "safe_next",
    "see_other",
    "state",
    "viewer",
]
