"""The isolation sweep's table: every route of every surface, and what customer A tries on it.

Each customer route has a ``Case``: one or more requests that A makes against B's data (B's
ids, B's sender, B's idempotency key) or, for routes that only read or change the caller's
own data, A's plain request, whose answer must hold nothing of B's. The sweep also sends each
case's first request with no token, malformed ones, a revoked one, a suspended account's and
the wrong scope's, and expects the surface's refusal in the surface's shape.

A route added to the app without a case here fails ``test_every_route_has_an_isolation_case``.
Operator routes (``/v1/admin``) need no case: every one is probed with customer, suspended,
revoked and malformed tokens, its path ids set to B's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.hardening.isolation_world import B_OPT_OUT, SHARED_KEY, World

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


@dataclass(frozen=True, slots=True)
class Case:
    route: tuple[str, str]  # (method, path) as the app declares it; sms.by: ("SMSBY", command)
    calls: Callable[[World], list[Call]]


def _native() -> list[Case]:
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


def _devsms() -> list[Case]:
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


def _smsgic() -> list[Case]:
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


def _smsby() -> list[Case]:
    def case(command: str, build: Callable[[World], list[Call]]) -> Case:
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


# --- the dashboard: add its routes here ------------------------------------------------------
# The dashboard (/app for customers, /admin for the operator) signs in with a session cookie,
# not a token. Its cases go in DASHBOARD_CASES, keyed by (method, path) as the app declares
# them, and its refusals in tests/hardening/test_isolation_sweep.py's DASHBOARD_SURFACE.
DASHBOARD_PREFIXES = ("/app", "/admin")
DASHBOARD_CASES: list[Case] = []


def all_cases() -> dict[tuple[str, str], Case]:
    table: dict[tuple[str, str], Case] = {}
    for case in [*_native(), *_devsms(), *_smsgic(), *_smsby(), *DASHBOARD_CASES]:
        assert case.route not in table, f"two cases for {case.route}"
        table[case.route] = case
    return table
