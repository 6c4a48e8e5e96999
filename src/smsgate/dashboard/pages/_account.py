"""Sender names, API tokens and webhooks of the customer's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from smsgate.accounts import admin as accounts_admin
from smsgate.accounts import service as accounts
from smsgate.audit import service as audit
from smsgate.dashboard.web import (
    Customer,
    Viewer,
    account_of,
    client_address,
    page_router,
    render,
    runtime,
    see_other,
)
from smsgate.kit.time import utcnow
from smsgate.senders.service import list_senders, request_sender
from smsgate.webhooks import service as webhooks

router = page_router()


def actor(viewer: Viewer) -> str:
    """How the audit log names a dashboard user."""
    return f"user:{viewer.user_id}"


@router.get("/app/senders")
def senders(request: Request, viewer: Customer, done: str = "") -> Response:
    with runtime(request).db.read() as session:
        rows = list_senders(session, account_of(viewer))
    return render(request, "app/senders.html", {"rows": rows, "done": done})


@router.post("/app/senders")
def add_sender(
    request: Request, viewer: Customer, name: Annotated[str, Form(max_length=30)]
) -> Response:
    with runtime(request).db.write() as session:
        request_sender(session, account_of(viewer), name)
    return see_other("/app/senders?done=requested")


def _tokens_page(request: Request, viewer: Viewer, new_token: str = "", done: str = "") -> Response:
    with runtime(request).db.read() as session:
        rows, _ = accounts_admin.list_tokens(session, account_of(viewer), limit=200)
    return render(request, "app/tokens.html", {"rows": rows, "new_token": new_token, "done": done})


@router.get("/app/tokens")
def tokens(request: Request, viewer: Customer, done: str = "") -> Response:
    return _tokens_page(request, viewer, done=done)


@router.post("/app/tokens")
def create_token(
    request: Request, viewer: Customer, name: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """The token is in this answer only (not a redirect: it must never be in a URL)."""
    with runtime(request).db.write() as session:
        _, plain = accounts_admin.create_token(
            session,
            account_of(viewer),
            name=name,
            actor=actor(viewer),
            address=client_address(request),
        )
    return _tokens_page(request, viewer, new_token=plain)


@router.post("/app/tokens/{token_id}/revoke")
def revoke_token(request: Request, viewer: Customer, token_id: int) -> Response:
    rt = runtime(request)
    with rt.db.write() as session:
        accounts.revoke_token(session, token_id, account_id=account_of(viewer))
        audit.record(
            session, actor(viewer), "token.revoke", f"token:{token_id}",
            address=client_address(request), account_id=viewer.account_id,
        )  # fmt: skip
    rt.auth.forget()  # this process stops the token at once; others within the cache's 2 s
    return see_other("/app/tokens?done=revoked")


def _webhooks_page(
    request: Request, viewer: Viewer, secret: str | None = None, done: str = ""
) -> Response:
    with runtime(request).db.read() as session:
        config = webhooks.get_config(session, account_of(viewer))
        deliveries = webhooks.list_deliveries(session, account_of(viewer), limit=50)
    context = {"config": config, "secret": secret, "deliveries": deliveries, "done": done}
    return render(request, "app/webhooks.html", context)


@router.get("/app/webhooks")
def webhooks_page(request: Request, viewer: Customer, done: str = "") -> Response:
    return _webhooks_page(request, viewer, done=done)


@router.post("/app/webhooks")
def set_webhook_url(
    request: Request, viewer: Customer, url: Annotated[str, Form(max_length=2100)] = ""
) -> Response:
    rt = runtime(request)
    with rt.db.write() as session:
        config = webhooks.set_url(
            session, account_of(viewer), url, allow_private=rt.settings.webhooks_allow_private
        )
    if config.secret:  # made just now: shown in this answer only
        return _webhooks_page(request, viewer, secret=config.secret, done="saved")
    return see_other("/app/webhooks?done=saved")


@router.post("/app/webhooks/secret")
def rotate_secret(request: Request, viewer: Customer) -> Response:
    with runtime(request).db.write() as session:
        config = webhooks.rotate_secret(session, account_of(viewer))
    return _webhooks_page(request, viewer, secret=config.secret, done="rotated")


@router.post("/app/webhooks/deliveries/{delivery_id}/replay")
def replay(request: Request, viewer: Customer, delivery_id: int) -> Response:
    rt = runtime(request)
    with rt.db.write() as session:
        webhooks.replay(session, account_of(viewer), delivery_id, utcnow())
    if rt.webhooks is not None:
        rt.webhooks.wake()
    return see_other("/app/webhooks?done=replayed")
