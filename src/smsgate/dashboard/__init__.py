"""The web dashboard: customer pages under ``/app``, the operator's under ``/admin``.

``mount(app)`` (the routes) and ``state_of(settings)`` (a gateway's state) are all
``smsgate.app`` calls. The package: ``models`` (users, sessions, invitations, uploads),
``users`` and ``sessions`` (services), ``uploads`` (recipient files), ``queries`` (the
dashboard's own reads), ``web`` (the foundation every page uses), ``pages/`` (customer
pages), ``templates/``, ``static/``, ``locale/`` and ``cli`` (``smsgate users``). How to add
a page: docs/dashboard.md.

Nothing web-related is imported here at module level: ``smsgate users`` (the CLI) imports
this package and should start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from smsgate.config import Settings
    from smsgate.dashboard._routing import DashboardState

STATIC_PATH = "/app/static"


def mount(app: FastAPI) -> None:
    """The dashboard's pages and static files on the process's route table."""
    from starlette.staticfiles import StaticFiles

    from smsgate.dashboard import _errors
    from smsgate.dashboard._render import STATIC
    from smsgate.dashboard.pages import router as customer_pages

    _errors.register_renderers()
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="dashboard-static")
    app.include_router(customer_pages)


def state_of(settings: Settings) -> DashboardState:
    """What the pages of one gateway share: its settings, session lifetimes, sign-in limits."""
    from smsgate.dashboard._routing import DashboardState

    return DashboardState.of(settings)


__all__ = ["STATIC_PATH", "mount", "state_of"]
