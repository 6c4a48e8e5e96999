"""The last line of defence: any exception a route did not handle becomes an answer in the
surface's own shape (503 for a busy or unreachable database, 500 otherwise).

Starlette's handler for ``Exception`` answers and then re-raises, which makes the server
drop the keep-alive connection; this middleware answers and keeps the connection.
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsgate.errors import SmsgateError, Unavailable
from smsgate.surfaces.rendering import render_error

log = structlog.get_logger(__name__)


class InternalError(SmsgateError):
    status = 500
    code = "internal"


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            error: SmsgateError
            if isinstance(exc, OperationalError):
                log.warning("database unavailable", path=scope.get("path"), error=str(exc.orig))
                error = Unavailable("the database is busy or unreachable; retry shortly")
            elif isinstance(exc, SmsgateError):
                error = exc
            else:
                log.exception("unexpected error", path=scope.get("path"))
                error = InternalError("an internal error occurred; it has been logged")
            await render_error(Request(scope), error)(scope, receive, send)
