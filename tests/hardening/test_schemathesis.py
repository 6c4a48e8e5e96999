"""schemathesis against smsgate's own OpenAPI document: every operation of the native API
(``/v1``) and the admin API (``/v1/admin``), on a real server over loopback, with a funded
customer's token and an operator's. Each response must be no server error and must match
what the document declares for it: status code, content type and body schema.

The default run keeps the examples per operation modest (CI); ``--runslow`` runs many more,
and a longer stateful run that follows the links schemathesis infers between operations
(create a sending, then read, cancel and list it): ``test_schemathesis_slow.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from smsgate.app import create_app
from smsgate.config import Settings
from smsgate.surfaces.deps import MAX_ID
from tests.hardening.conftest import Gate

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 6  # per operation and engine, beside schemathesis's boundary cases: the default
# suite's share (10 took about 110 s of test time for both engines, more than its share)
SLOW_EXAMPLES = 200
ANY_HEALTH = list(HealthCheck)


def _document() -> dict[str, Any]:
    # Built at import because schemathesis parametrizes at collection time; the first test
    # below proves it is the very document the server serves.
    app = create_app(Settings(database_url="sqlite://", demo=False), dispatch=False)
    try:
        return app.openapi()
    finally:
        app.state.runtime.db.dispose()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT).include(path_regex="^/v1/")


def _headers(gate: Gate, case: schemathesis.Case[Any]) -> dict[str, str]:
    return gate.operator_headers if case.path.startswith("/v1/admin") else gate.customer.headers


def _spare_our_tokens(gate: Gate, case: schemathesis.Case[Any]) -> None:
    """Revoking the fuzzer's own tokens would leave it testing only 401 (and then 429):
    such a case revokes a token that does not exist instead (a 404, documented too)."""
    wanted = str((case.path_parameters or {}).get("token_id", ""))  # a link gives text
    if wanted.isascii() and wanted.isdigit() and int(wanted) in gate.token_ids:
        case.path_parameters["token_id"] = MAX_ID


def _call(gate: Gate, case: schemathesis.Case[Any]) -> None:
    _spare_our_tokens(gate, case)
    case.call_and_validate(base_url=gate.url, headers=_headers(gate, case), checks=CHECKS)


def test_the_document_is_the_served_one(gate: Gate) -> None:
    assert httpx.get(f"{gate.url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=ANY_HEALTH)
def test_every_operation(case: schemathesis.Case[Any], gate: Gate) -> None:
    _call(gate, case)
