"""The isolation sweep's table: every route of every surface, and what customer A tries on it.

Each customer route has a ``Case``: one or more requests that A makes against B's data (B's
ids, B's sender, B's idempotency key) or, for routes that only read or change the caller's
own data, A's plain request, whose answer must hold nothing of B's. The sweep also sends each
case's first request with no token, malformed ones, a revoked one, a suspended account's and
the wrong scope's, and expects the surface's refusal in the surface's shape.

A route added to the app without a case here fails ``test_every_route_has_an_isolation_case``.
Operator routes (``/v1/admin``) need no case: every one is probed with customer, suspended,
revoked and malformed tokens, its path ids set to B's.

The dashboard's routes (``/app``, ``/admin``), operator pages included, each have a case in
``DASHBOARD_CASES`` (``test_every_dashboard_route_has_an_isolation_case``); their requests go
from signed-in browsers (``isolation_dashboard.Seat``) instead of with tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from smsgate.dashboard.web import SESSION_COOKIE
from tests.hardening.isolation_dashboard import B_EMAIL, Desk, Seat
from tests.hardening.isolation_world import B_NUMBERS, B_OPT_OUT, SHARED_KEY, World

# Routes that answer without a token, on purpose. Upstream callbacks are authenticated by
# the connector's callback token instead (tests/connectors).
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/status"),
        ("GET", "/metrics"),
        ("POST", "/v1/callbacks/{connector}"),
        ("POST", "/v1/callbacks/{connector}/{token}"),
    }
)
SMSBY_ROUTE = "/api/v1/{command}"  # one route, one case per command


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    expect: int  # what A gets
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token_in: str = "bearer"  # or "param": sms.by's ``token`` parameter
    # the dashboard's: a file to upload, the seat A sends from (None: A's usual one), whether
    # A sends the seat's CSRF token, and what a suspended account's session gets when the
    # sweep's rule does not say (test_isolation_sweep.py ``_suspended_gets``)
    files: dict[str, tuple[str, bytes, str]] | None = None
    seat: Seat | None = None
    csrf: bool = True
    suspended: int | None = None

    def send(
        self, client: httpx.Client, authorization: str | None, param: str | None
    ) -> httpx.Response:
        """Send with this Authorization header and/or ``token`` parameter (None: without)."""
        headers, params = dict(self.headers), dict(self.params)
        if authorization is not None:
            headers["Authorization"] = authorization
        if param is not None:
            params["token"] = param
        return client.request(
            self.method, self.path, params=params, json=self.json, data=self.data, headers=headers
        )

    def visit(
        self, client: httpx.Client, cookies: dict[str, str], csrf: str | None
    ) -> httpx.Response:
        """Send as a browser would: these cookies, and ``csrf`` (None: none) in the form's
        ``csrf_token`` field, or in ``X-CSRF-Token`` for a JSON body."""
        headers, data = dict(self.headers), dict(self.data or {})
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if csrf is not None and self.json is not None:
            headers["X-CSRF-Token"] = csrf
        elif csrf is not None:
            data["csrf_token"] = csrf
        return client.request(
            self.method,
            self.path,
            params=self.params,
            json=self.json,
            data=data or None,
            files=self.files,
            headers=headers,
        )

    def session_of(self, desk: Desk) -> dict[str, str]:
        return {SESSION_COOKIE: (self.seat or desk.a).cookie}


W = TypeVar("W")


@dataclass(frozen=True, slots=True)
class Case(Generic[W]):
    route: tuple[str, str]  # (method, path) as the app declares it; sms.by: ("SMSBY", command)
    calls: Callable[[W], list[Call]]  # W: the World, or the dashboard's Desk


def _native() -> list[Case[World]]:
    return [
        # B's very request with B's idempotency key: never B's stored answer, and A may not
        # send with B's sender
        Case(
            ("POST", "/v1/messages"),
            lambda w: [
                Call(
                    "POST",
                    "/v1/messages",
                    422,
                    json=w.b.send_body,
                    headers={"Idempotency-Key": SHARED_KEY},
                )
            ],
        ),
        Case(
            ("GET", "/v1/messages/{message_id}"),
            lambda w: [
                Call("GET", f"/v1/messages/{w.b.delivered_id}", 404),
                Call("GET", f"/v1/messages/{w.b.scheduled_id}", 404),
            ],
        ),
        Case(
            ("GET", "/v1/messages"),
            lambda w: [
                Call("GET", "/v1/messages", 200),
                Call("GET", "/v1/messages", 200, params={"sending_id": w.b.sending_id}),
                Call("GET", "/v1/messages", 200, params={"phone": w.b.send_body["to"]}),
            ],
        ),
        Case(
            ("POST", "/v1/messages/{message_id}/cancel"),
            lambda w: [Call("POST", f"/v1/messages/{w.b.scheduled_id}/cancel", 404)],
        ),
        Case(("GET", "/v1/balance"), lambda w: [Call("GET", "/v1/balance", 200)]),
        Case(("GET", "/v1/ledger"), lambda w: [Call("GET", "/v1/ledger", 200)]),
        Case(("GET", "/v1/ledger.csv"), lambda w: [Call("GET", "/v1/ledger.csv", 200)]),
        Case(("GET", "/v1/statistics"), lambda w: [Call("GET", "/v1/statistics", 200)]),
        Case(("GET", "/v1/rates"), lambda w: [Call("GET", "/v1/rates", 200)]),
        Case(
            ("POST", "/v1/quote"),
            lambda w: [Call("POST", "/v1/quote", 200, json={"to": ["+37126555550"], "text": "x"})],
        ),
        Case(("GET", "/v1/senders"), lambda w: [Call("GET", "/v1/senders", 200)]),
        # the name B has: A gets a request of its own, B's approved sender is untouched
        Case(
            ("POST", "/v1/senders"),
            lambda w: [Call("POST", "/v1/senders", 201, json={"name": w.b.sender})],
        ),
        Case(
            ("POST", "/v1/sendings"),
            lambda w: [
                Call(
                    "POST",
                    "/v1/sendings",
                    422,
                    json={"recipients": ["+37126555551"], "text": "x", "sender": w.b.sender},
                )
            ],
        ),
        Case(("GET", "/v1/sendings"), lambda w: [Call("GET", "/v1/sendings", 200)]),
        Case(
            ("GET", "/v1/sendings/{sending_id}"),
            lambda w: [Call("GET", f"/v1/sendings/{w.b.sending_id}", 404)],
        ),
        Case(
            ("POST", "/v1/sendings/{sending_id}/cancel"),
            lambda w: [Call("POST", f"/v1/sendings/{w.b.sending_id}/cancel", 404)],
        ),
        Case(("GET", "/v1/invoices"), lambda w: [Call("GET", "/v1/invoices", 200)]),
        Case(
            ("POST", "/v1/invoices"),
            lambda w: [Call("POST", "/v1/invoices", 201, json={"amount": "10"})],
        ),
        Case(
            ("GET", "/v1/invoices/{invoice_id}.pdf"),
            lambda w: [Call("GET", f"/v1/invoices/{w.b.invoice_id}.pdf", 404)],
        ),
        Case(
            ("GET", "/v1/invoices/{invoice_id}"),
            lambda w: [Call("GET", f"/v1/invoices/{w.b.invoice_id}", 404)],
        ),
        Case(("GET", "/v1/webhooks"), lambda w: [Call("GET", "/v1/webhooks", 200)]),
        Case(
            ("PUT", "/v1/webhooks"),
            lambda w: [
                Call("PUT", "/v1/webhooks", 200, json={"url": "https://alpha.example/hook"})
            ],
        ),
        Case(("POST", "/v1/webhooks/secret"), lambda w: [Call("POST", "/v1/webhooks/secret", 200)]),
        Case(
            ("GET", "/v1/webhooks/deliveries"),
            lambda w: [
                Call("GET", "/v1/webhooks/deliveries", 200),
                Call(
                    "GET", "/v1/webhooks/deliveries", 200, params={"message_id": w.b.delivered_id}
                ),
            ],
        ),
        Case(
            ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"),
            lambda w: [Call("POST", f"/v1/webhooks/deliveries/{w.b.delivery_id}/replay", 404)],
        ),
        Case(("GET", "/v1/inbound"), lambda w: [Call("GET", "/v1/inbound", 200)]),
        Case(("GET", "/v1/opt-outs"), lambda w: [Call("GET", "/v1/opt-outs", 200)]),
        Case(
            ("POST", "/v1/opt-outs"),
            lambda w: [Call("POST", "/v1/opt-outs", 200, json={"msisdn": "+37126555552"})],
        ),
        # B's opted-out number is not on A's list: A cannot take it off B's
        Case(
            ("DELETE", "/v1/opt-outs/{msisdn}"),
            lambda w: [Call("DELETE", f"/v1/opt-outs/{B_OPT_OUT}", 404)],
        ),
    ]


def _devsms() -> list[Case[World]]:
    return [
        Case(
            ("POST", "/api/send_sms.php"),
            lambda w: [
                Call(
                    "POST",
                    "/api/send_sms.php",
                    400,
                    json={"phone": "37126555553", "message": "x", "from": w.b.sender},
                )
            ],
        ),
        Case(("GET", "/api/get_history.php"), lambda w: [Call("GET", "/api/get_history.php", 200)]),
        Case(
            ("POST", "/api/get_history.php"),
            lambda w: [Call("POST", "/api/get_history.php", 200, json={"status": "DELIVERED"})],
        ),
        Case(("GET", "/api/get_balance.php"), lambda w: [Call("GET", "/api/get_balance.php", 200)]),
        Case(
            ("POST", "/api/get_balance.php"), lambda w: [Call("POST", "/api/get_balance.php", 200)]
        ),
        Case(
            ("GET", "/api/get_status.php"),
            lambda w: [
                Call("GET", "/api/get_status.php", 404, params={"sms_id": w.b.delivered_id})
            ],
        ),
        Case(
            ("POST", "/api/get_status.php"),
            lambda w: [
                Call("POST", "/api/get_status.php", 404, json={"request_id": w.b.request_id})
            ],
        ),
    ]


def _smsgic() -> list[Case[World]]:
    return [
        Case(("GET", "/balance"), lambda w: [Call("GET", "/balance", 200)]),
        Case(("GET", "/senders"), lambda w: [Call("GET", "/senders", 200)]),
        Case(("GET", "/rates"), lambda w: [Call("GET", "/rates", 200)]),
        Case(
            ("POST", "/sendings/calculate"),
            lambda w: [
                Call(
                    "POST",
                    "/sendings/calculate",
                    200,
                    json={"message": "x", "recipients": ["37126555554"]},
                )
            ],
        ),
        Case(
            ("POST", "/sendings"),
            lambda w: [
                Call(
                    "POST",
                    "/sendings",
                    422,
                    json={"message": "x", "recipients": ["37126555554"], "sender": w.b.sender},
                )
            ],
        ),
        Case(("GET", "/sendings"), lambda w: [Call("GET", "/sendings", 200)]),
        Case(
            ("GET", "/sendings/{sending_id}"),
            lambda w: [Call("GET", f"/sendings/{w.b.sending_id}", 404)],
        ),
    ]


def _by(command: str, expect: int, style: str = "param", **params: Any) -> Call:
    """An sms.by command as its clients send it: POST, the token in the query or a header."""
    return Call("POST", f"/api/v1/{command}", expect, params=params, token_in=style)


def _smsby() -> list[Case[World]]:
    def case(command: str, build: Callable[[World], list[Call]]) -> Case[World]:
        return Case(("SMSBY", command.lower()), build)

    return [
        case("getBalance", lambda w: [_by("getBalance", 200)]),
        case("getLimit", lambda w: [_by("getLimit", 200, "bearer")]),
        case("getAlphanames", lambda w: [_by("getAlphanames", 200)]),
        case("getAlphanameId", lambda w: [_by("getAlphanameId", 404, name=w.b.sender)]),
        case(
            "sendQuickSMS",
            lambda w: [
                _by(
                    "sendQuickSMS",
                    400,
                    message="x",
                    phone="37126555555",
                    alphaname_id=w.b.sender_id,
                )
            ],
        ),
        case(
            "createSmsMessage",
            lambda w: [
                _by("createSmsMessage", 400, "bearer", message="x", alphaname_id=w.b.sender_id)
            ],
        ),
        case(
            "checkSMSMessageStatus",
            lambda w: [_by("checkSMSMessageStatus", 404, message_id=w.b.template_id)],
        ),
        case("getMessagesList", lambda w: [_by("getMessagesList", 200)]),
        case(
            "sendSms",
            lambda w: [
                _by("sendSms", 404, "bearer", message_id=w.b.template_id, phone="37126555556")
            ],
        ),
        case("checkSMS", lambda w: [_by("checkSMS", 404, sms_id=w.b.delivered_id)]),
        case(
            "getSmsDeliveryList",
            lambda w: [_by("getSmsDeliveryList", 404, message_id=w.b.template_id)],
        ),
        case(
            "createPasswordObject",
            lambda w: [_by("createPasswordObject", 200, type_id="numbers", len="4")],
        ),
        case("getPasswordObjects", lambda w: [_by("getPasswordObjects", 200, "bearer")]),
        case(
            "getPasswordObject",
            lambda w: [_by("getPasswordObject", 404, id=w.b.password_object_id)],
        ),
        case(
            "editPasswordObject",
            lambda w: [_by("editPasswordObject", 404, id=w.b.password_object_id, len="8")],
        ),
        case(
            "deletePasswordObject",
            lambda w: [_by("deletePasswordObject", 404, "bearer", id=w.b.password_object_id)],
        ),
        case(
            "sendSmsMessageWithCode",
            lambda w: [
                _by(
                    "sendSmsMessageWithCode",
                    404,
                    message="%CODE%",
                    password_object_id=w.b.password_object_id,
                    phone="37126555557",
                )
            ],
        ),
        case("getBills", lambda w: [_by("getBills", 200)]),
        case("createBill", lambda w: [_by("createBill", 200, amount="10", amount_type="sms")]),
        case("downloadBill", lambda w: [_by("downloadBill", 404, bill_id=w.b.invoice_id)]),
    ]


# --- the dashboard ---------------------------------------------------------------------------
# The dashboard (/app for customers, /admin for the operator) signs in with a session cookie,
# not a token: its cases take the ``Desk`` (isolation_dashboard.py), and A sends each call from
# A's own seat (session cookie and CSRF token) unless the call names another. The sweep sends
# each case's first call signed out, from a suspended account, in the wrong role and without
# a valid CSRF token too (test_isolation_sweep.py ``_dashboard_route``).
DASHBOARD_PREFIXES = ("/app", "/admin")


def _get(path: str, expect: int = 200, **params: Any) -> Call:
    return Call("GET", path, expect, params=params)


def _post(path: str, expect: int, **data: Any) -> Call:
    return Call("POST", path, expect, data=data)


def _app(route: tuple[str, str], build: Callable[[Desk], list[Call]]) -> Case[Desk]:
    return Case(route, build)


def _customer_pages() -> list[Case[Desk]]:
    def b(d: Desk) -> Any:
        return d.world.b

    return [
        _app(("GET", "/app"), lambda d: [_get("/app")]),
        _app(("GET", "/app/send"), lambda d: [_get("/app/send", to=B_NUMBERS[0])]),
        # B's sender, then B's upload as the recipients: refused, nothing sent or charged; a
        # suspended account's send is refused by the core (the form shows why)
        _app(
            ("POST", "/app/send"),
            lambda d: [
                Call(
                    "POST",
                    "/app/send",
                    422,
                    data={"text": "x", "sender": b(d).sender, "recipients": "+37126555558"},
                    suspended=403,
                ),
                _post("/app/send", 404, text="x", sender="ALPHA", upload_id=str(d.b_upload_id)),
            ],
        ),
        # counting and pricing change nothing: a suspended account may still use them
        _app(
            ("POST", "/app/api/segments"),
            lambda d: [Call("POST", "/app/api/segments", 200, json={"text": "x"}, suspended=200)],
        ),
        _app(
            ("POST", "/app/api/quote"),
            lambda d: [
                Call(
                    "POST",
                    "/app/api/quote",
                    404,
                    json={"text": "x", "upload_id": d.b_upload_id},
                    suspended=404,
                ),
                Call(
                    "POST", "/app/api/quote", 200, json={"text": "x", "recipients": "+37126555559"}
                ),
            ],
        ),
        _app(
            ("POST", "/app/api/uploads"),
            lambda d: [
                Call(
                    "POST",
                    "/app/api/uploads",
                    202,
                    files={"file": ("alpha.csv", b"phone\n37126555560\n", "text/csv")},
                )
            ],
        ),
        _app(
            ("GET", "/app/api/uploads/{upload_id}"),
            lambda d: [_get(f"/app/api/uploads/{d.b_upload_id}", 404)],
        ),
        _app(
            ("GET", "/app/messages"),
            lambda d: [
                _get("/app/messages"),
                _get("/app/messages", sending=b(d).sending_id),
                _get("/app/messages", phone=B_NUMBERS[0]),
            ],
        ),
        _app(
            ("GET", "/app/messages.csv"),
            lambda d: [
                _get("/app/messages.csv"),
                _get("/app/messages.csv", sending=b(d).sending_id),
            ],
        ),
        _app(
            ("GET", "/app/messages/{message_id}"),
            lambda d: [
                _get(f"/app/messages/{b(d).delivered_id}", 404),
                _get(f"/app/messages/{b(d).scheduled_id}", 404),
            ],
        ),
        _app(
            ("POST", "/app/messages/{message_id}/cancel"),
            lambda d: [_post(f"/app/messages/{b(d).scheduled_id}/cancel", 404)],
        ),
        _app(("GET", "/app/sendings"), lambda d: [_get("/app/sendings")]),
        _app(
            ("GET", "/app/sendings/{sending_id}"),
            lambda d: [_get(f"/app/sendings/{b(d).sending_id}", 404)],
        ),
        _app(
            ("POST", "/app/sendings/{sending_id}/cancel"),
            lambda d: [_post(f"/app/sendings/{b(d).sending_id}/cancel", 404)],
        ),
        _app(("GET", "/app/senders"), lambda d: [_get("/app/senders")]),
        # the name B has: A's own request, B's approved name untouched
        _app(("POST", "/app/senders"), lambda d: [_post("/app/senders", 303, name=b(d).sender)]),
        _app(("GET", "/app/tokens"), lambda d: [_get("/app/tokens")]),
        _app(("POST", "/app/tokens"), lambda d: [_post("/app/tokens", 200, name="alpha")]),
        _app(
            ("POST", "/app/tokens/{token_id}/revoke"),
            lambda d: [_post(f"/app/tokens/{b(d).token_id}/revoke", 404)],
        ),
        _app(("GET", "/app/webhooks"), lambda d: [_get("/app/webhooks")]),
        _app(
            ("POST", "/app/webhooks"),
            lambda d: [_post("/app/webhooks", 200, url="https://alpha.example/hook")],
        ),
        _app(("POST", "/app/webhooks/secret"), lambda d: [_post("/app/webhooks/secret", 200)]),
        _app(
            ("POST", "/app/webhooks/deliveries/{delivery_id}/replay"),
            lambda d: [_post(f"/app/webhooks/deliveries/{b(d).delivery_id}/replay", 404)],
        ),
        _app(("GET", "/app/invoices"), lambda d: [_get("/app/invoices")]),
        _app(("POST", "/app/invoices"), lambda d: [_post("/app/invoices", 303, amount="10")]),
        _app(
            ("GET", "/app/invoices/{invoice_id}.pdf"),
            lambda d: [_get(f"/app/invoices/{b(d).invoice_id}.pdf", 404)],
        ),
        _app(("GET", "/app/inbound"), lambda d: [_get("/app/inbound")]),
        _app(("GET", "/app/opt-outs"), lambda d: [_get("/app/opt-outs")]),
        _app(
            ("POST", "/app/opt-outs"),
            lambda d: [_post("/app/opt-outs", 303, msisdn="+37126555561")],
        ),
        # B's opted-out number is not on A's list: A cannot take it off B's
        _app(
            ("POST", "/app/opt-outs/{msisdn}/remove"),
            lambda d: [_post(f"/app/opt-outs/{B_OPT_OUT}/remove", 404)],
        ),
    ]


def _user_pages() -> list[Case[Desk]]:
    """A user's own settings and sign-out (any signed-in user), sign-in and invitations
    (anyone)."""
    guess = "no-such-invitation-" + "x" * 24
    return [
        _app(("GET", "/app/me"), lambda d: [_get("/app/me")]),
        _app(("POST", "/app/me/locale"), lambda d: [_post("/app/me/locale", 303, locale="en")]),
        # B's browser is not one of A's sessions to end
        _app(
            ("POST", "/app/me/sessions/{session_id}/end"),
            lambda d: [_post(f"/app/me/sessions/{d.b_session_id}/end", 404)],
        ),
        # ends only that session, and "everywhere" only that user's (the rows say so)
        _app(
            ("POST", "/app/signout"),
            lambda d: [Call("POST", "/app/signout", 303, seat=d.a_second)],
        ),
        _app(
            ("POST", "/app/signout-everywhere"),
            lambda d: [Call("POST", "/app/signout-everywhere", 303, seat=d.a2)],
        ),
        _app(("GET", "/app/signin"), lambda d: [_get("/app/signin", 303)]),
        # B's email with a guess: no session of B's, nothing of B's changed
        _app(
            ("POST", "/app/signin"),
            lambda d: [_post("/app/signin", 401, email=B_EMAIL, password="a wrong guess")],
        ),
        _app(("GET", "/app/invite/{token}"), lambda d: [_get(f"/app/invite/{guess}", 404)]),
        # B's own invitation posted without the form's token (a forged form), then a guess
        _app(
            ("POST", "/app/invite/{token}"),
            lambda d: [
                Call(
                    "POST",
                    f"/app/invite/{d.b_invitation}",
                    403,
                    data={"password": "mallory's password", "confirm": "mallory's password"},
                    csrf=False,
                ),
                _post(
                    f"/app/invite/{guess}",
                    404,
                    password="mallory's password",
                    confirm="mallory's password",
                ),
            ],
        ),
    ]


# Operator pages and actions, with B's ids in their paths and a plausible form: a customer's
# session (A's, the suspended account's) is refused whatever it asks.
_CARD = "mcc,mnc,country,network,price\n247,,Latvia,,0\n"
_ADMIN: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/admin"): {},
    ("GET", "/admin/accounts"): {"q": "Beta"},
    ("GET", "/admin/accounts/new"): {},
    ("GET", "/admin/accounts/{account_id}"): {},
    ("GET", "/admin/audit"): {},
    ("GET", "/admin/connectors"): {},
    ("GET", "/admin/invoices"): {"number": "{invoice_number}"},
    ("GET", "/admin/margins"): {},
    ("GET", "/admin/plans"): {},
    ("GET", "/admin/plans/{name}/rates.csv"): {},
    ("GET", "/admin/senders"): {"status": "all"},
    ("POST", "/admin/accounts"): {"name": "Mallory", "balance": "1000"},
    ("POST", "/admin/accounts/{account_id}/adjust"): {"amount": "-50", "reason": "x"},
    ("POST", "/admin/accounts/{account_id}/credit-limit"): {"credit_limit": "1000"},
    ("POST", "/admin/accounts/{account_id}/invite"): {"email": "mallory@alpha.example"},
    ("POST", "/admin/accounts/{account_id}/plan"): {"plan": ""},
    ("POST", "/admin/accounts/{account_id}/resume"): {},
    ("POST", "/admin/accounts/{account_id}/suspend"): {},
    ("POST", "/admin/accounts/{account_id}/topup"): {"amount": "1000", "reason": "x"},
    ("POST", "/admin/invoices/{invoice_id}/cancel"): {},
    ("POST", "/admin/invoices/{invoice_id}/pay"): {},
    ("POST", "/admin/plans/import"): {"name": "standard", "card": _CARD},
    ("POST", "/admin/plans/preview"): {"name": "standard", "card": _CARD},
    ("POST", "/admin/routes"): {"connectors": "simulator", "account_id": "{account_id}"},
    ("POST", "/admin/routes/{route_id}/remove"): {},
    ("POST", "/admin/senders/{sender_id}/approve"): {},
    ("POST", "/admin/senders/{sender_id}/reject"): {"reason": "x"},
}


def _admin_page(route: tuple[str, str], fields: dict[str, Any]) -> Case[Desk]:
    def build(d: Desk) -> list[Call]:
        ids = {
            "account_id": d.world.b.account_id,
            "invoice_id": d.world.b.invoice_id,
            "invoice_number": d.world.b.invoice_number,
            "sender_id": d.world.b.sender_id,
            "route_id": 1,
            "name": "standard",
        }
        path = route[1].format(**ids)
        values = {k: str(v).format(**ids) for k, v in fields.items()}
        if route == ("POST", "/admin/plans/preview"):  # a file, as the form sends it
            card = ("card.csv", values.pop("card").encode(), "text/csv")
            return [Call("POST", path, 403, data=values, files={"card": card})]
        if route[0] == "GET":
            return [Call("GET", path, 403, params=values)]
        return [Call("POST", path, 403, data=values)]

    return Case(route, build)


DASHBOARD_CASES: list[Case[Desk]] = [
    *_customer_pages(),
    *_user_pages(),
    *(_admin_page(route, fields) for route, fields in _ADMIN.items()),
]


def all_cases() -> dict[tuple[str, str], Case[Any]]:
    table: dict[tuple[str, str], Case[Any]] = {}
    cases: list[Case[Any]] = [*_native(), *_devsms(), *_smsgic(), *_smsby(), *DASHBOARD_CASES]
    for case in cases:
        assert case.route not in table, f"two cases for {case.route}"
        table[case.route] = case
    return table
