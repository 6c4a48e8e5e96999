"""The last line of defence: any exception a route did not handle becomes an answer in the
surface's own shape (503 for a busy, unreachable or full database, 422 for a value the
database refuses, 500 otherwise).

Starlette's handler for ``Exception`` answers and then re-raises, which makes the server
drop the keep-alive connection; this middleware answers and keeps the connection.

A client that hangs up before its request body has arrived is nobody's error: there is no
one to answer and nothing was accepted (a send is taken only from a whole body), so it is
logged at info, not as an unexpected error with a traceback.
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import DataError
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsgate.db import outage
from smsgate.errors import InvalidRequest, SmsgateError, StorageFull
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
        except ClientDisconnect:
            log.info("client disconnected before its request was read", path=scope.get("path"))
        except Exception as exc:
            if started:
                raise
            error: SmsgateError | None = outage(exc)
            if isinstance(error, StorageFull):
                log.error("database storage full", path=scope.get("path"), error=_cause(exc))
            elif error is not None:
                log.warning("database unavailable", path=scope.get("path"), error=_cause(exc))
            elif isinstance(exc, SmsgateError):
                error = exc
            elif (refused := unstorable(exc)) is not None:
                log.warning("value refused by the database", path=scope.get("path"), error=refused)
                error = InvalidRequest(
                    f"a value in the request cannot be stored or looked up: {refused}",
                    code="invalid_value",
                )
            else:
                log.exception("unexpected error", path=scope.get("path"))
                error = InternalError("an internal error occurred; it has been logged")
            await render_error(Request(scope), error)(scope, receive, send)


# PostgreSQL's "string data right truncation" and "numeric value out of range".
_VALUE_STATES = frozenset({"22001", "22003"})


def unstorable(exc: BaseException) -> str | None:
    """Why the database refused a value taken from the request, or None for anything else.

    The checks at the edges keep such values out (ids have bounds, sends check their text);
    this is the net for a path that missed one, so bad input never answers 500: a NUL in a
    text (PostgreSQL), a lone surrogate (no UTF-8 for it), a number past the column's type.
    """
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        return "a text holds a lone surrogate, which is not Unicode text"
    if isinstance(exc, OverflowError) and "SQLite INTEGER" in str(exc):
        return "a number is larger than 64 bits"
    if not isinstance(exc, DataError):
        return None
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _VALUE_STATES:
        return str(orig).splitlines()[0]
    if "NUL (0x00)" in str(orig):
        return "a text holds a NUL character"
    return None


def _cause(exc: BaseException) -> str:
    """The driver's own words, without the SQL statement SQLAlchemy adds."""
    return str(getattr(exc, "orig", None) or exc)
