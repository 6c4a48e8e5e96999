"""The web dashboard: customer pages under ``/app``, the operator's under ``/admin``.

``mount(app, settings)`` is all ``smsgate.app`` calls. The package: ``models`` (users,
sessions, invitations, uploads), ``users`` and ``sessions`` (services), ``uploads``
(recipient files), ``queries`` (the dashboard's own reads), ``web`` (the foundation every
page uses), ``pages/`` (customer pages), ``templates/``, ``static/``, ``locale/`` and
``cli`` (``smsgate users``). How to add a page: docs/dashboard.md.

Nothing web-related is imported here at module level: ``smsgate users`` (the CLI) imports
this package and should start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from smsgate.config import Settings

STATIC_PATH = "/app/static"


def mount(app: FastAPI, settings: Settings) -> None:
    from starlette.staticfiles import StaticFiles

    from smsgate.dashboard import _errors
    from smsgate.dashboard._render import STATIC
    from smsgate.dashboard._routing import DashboardState
    from smsgate.dashboard.pages import router as customer_pages

    _errors.register_renderers()
    app.state.dashboard = DashboardState.of(settings)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="dashboard-static")
    app.include_router(customer_pages)


__all__ = ["STATIC_PATH", "mount"]
