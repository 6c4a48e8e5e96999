"""Sign-in, sign-out (here or everywhere), invitations, and the user's own settings."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from smsgate.dashboard import sessions as sessions_service
from smsgate.dashboard import users
from smsgate.dashboard.models import DashboardUser
from smsgate.dashboard.web import (
    SESSION_COOKIE,
    SignedIn,
    client_address,
    gettext_for,
    page_router,
    render,
    runtime,
    safe_next,
    see_other,
    state,
    viewer,
)
from smsgate.errors import InvalidRequest, SmsgateError
from smsgate.kit.time import utcnow

public = page_router(public=True)
router = page_router()


class TooManySignIns(SmsgateError):
    status = 429
    code = "too_many_signins"


def _start_session(request: Request, user: DashboardUser, target: str) -> Response:
    lifetime = state(request).lifetime
    with runtime(request).db.write() as session:
        secret = sessions_service.open_session(
            session,
            user,
            lifetime,
            utcnow(),
            address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    response = see_other(target)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(lifetime.max_age.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@public.get("/app/signin")
def signin_form(request: Request, next: str = "") -> Response:
    seen = viewer(request)
    if seen is not None:
        return see_other(safe_next(next, "/admin" if seen.is_operator else "/app"))
    return render(request, "auth/signin.html", {"next": safe_next(next, ""), "email": ""})


def _limit(request: Request, email: str) -> None:
    """Count the attempt (one write, shared by every process) and refuse it past a limit."""
    limits, _ = state(request), gettext_for(request)
    decisions = runtime(request).limits.hit(
        (limits.signins_by_address, client_address(request)),
        (limits.signins_by_email, email.strip().lower()),
    )
    refused = [d.reset_after for d in decisions if not d.allowed]
    if refused:
        minutes = max(1, math.ceil(max(refused) / 60))
        raise TooManySignIns(
            _("Too many sign-in attempts. Try again in %(minutes)d minutes.") % {"minutes": minutes}
        )


@public.post("/app/signin")
def signin(
    request: Request,
    email: Annotated[str, Form(max_length=1000)],
    password: Annotated[str, Form(max_length=2000)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    _limit(request, email)
    db = runtime(request).db
    with db.read() as session:
        user = users.verify_password(session, email, password)
    if user is not None:
        with db.write() as session:
            users.record_signin(session, user.id, password)
    if user is None:
        _ = gettext_for(request)
        context = {
            "next": safe_next(next, ""),
            "email": email,
            "error": _("Wrong email or password."),
        }
        return render(request, "auth/signin.html", context, status=401)
    home = "/admin" if user.is_operator else "/app"
    return _start_session(request, user, safe_next(next, home))


def _signed_out() -> Response:
    response = see_other("/app/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/app/signout")
def signout(request: Request, seen: SignedIn) -> Response:
    with runtime(request).db.write() as session:
        sessions_service.close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    return _signed_out()


@router.post("/app/signout-everywhere")
def signout_everywhere(request: Request, seen: SignedIn) -> Response:
    with runtime(request).db.write() as session:
        sessions_service.close_all(session, seen.user_id)
    return _signed_out()


@public.get("/app/invite/{token}")
def invitation(request: Request, token: str) -> Response:
    with runtime(request).db.read() as session:
        row = users.open_invitation(session, token)
    return render(request, "auth/invite.html", {"invitation": row, "token": token})


@public.post("/app/invite/{token}")
def accept(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=2000)],
    confirm: Annotated[str, Form(max_length=2000)],
    locale: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    _ = gettext_for(request)
    with runtime(request).db.read() as session:
        row = users.open_invitation(session, token)
    try:
        if password != confirm:
            raise InvalidRequest(_("The two passwords differ."), field="confirm")
        with runtime(request).db.write() as session:
            user = users.accept_invitation(session, token, password, locale=locale or None)
    except InvalidRequest as exc:  # the form again, with what to fix (404s go to the error page)
        context = {"invitation": row, "token": token, "error": exc.message}
        return render(request, "auth/invite.html", context, status=exc.status)
    return _start_session(request, user, "/app")


@router.get("/app/me")
def me(request: Request, seen: SignedIn, done: str = "") -> Response:
    with runtime(request).db.read() as session:
        rows = sessions_service.list_sessions(
            session, seen.user_id, state(request).lifetime, utcnow()
        )
    return render(
        request, "app/me.html", {"sessions": rows, "done": done, "locales": users.LOCALES}
    )


@router.post("/app/me/locale")
def set_locale(
    request: Request, seen: SignedIn, locale: Annotated[str, Form(max_length=10)]
) -> Response:
    with runtime(request).db.write() as session:
        users.set_locale(session, seen.user_id, locale)
    return see_other("/app/me?done=locale")


@router.post("/app/me/sessions/{session_id}/end")
def end_session(request: Request, seen: SignedIn, session_id: int) -> Response:
    with runtime(request).db.write() as session:
        sessions_service.close_other(session, seen.user_id, session_id)
    if session_id == seen.session_id:
        return _signed_out()
    return see_other("/app/me?done=session")
