"""The long schemathesis runs (``--runslow`` or ``-m slow``): many examples per operation, and
stateful sequences that follow the links schemathesis infers between operations (create a
sending, then read, cancel and list it). What is checked is as in ``test_schemathesis.py``.

A module of its own, named ``*_slow.py``, so that it is not even collected without slow
tests (``tests/conftest.py``): schemathesis builds a test's cases while collecting it,
about 4 s in each xdist worker for this one.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import Phase, settings

from tests.hardening.conftest import Gate
from tests.hardening.test_schemathesis import (
    ANY_HEALTH,
    CHECKS,
    DOCUMENT,
    SLOW_EXAMPLES,
    _call,
    _headers,
    _spare_our_tokens,
    schema,
)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=ANY_HEALTH)
def test_every_operation_at_length(case: schemathesis.Case[Any], gate: Gate) -> None:
    _call(gate, case)


@pytest.mark.slow
def test_linked_sequences(gate: Gate) -> None:
    machine = schemathesis.openapi.from_dict(DOCUMENT).include(path_regex="^/v1/")
    base = machine.as_state_machine()
    answered: set[tuple[str, str, int]] = set()

    class Sequences(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": gate.url, "headers": _headers(gate, case)}

        def before_call(self, case: schemathesis.Case[Any]) -> None:
            _spare_our_tokens(gate, case)

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            answered.add((case.method, case.path, response.status_code))
            case.validate_response(response, checks=CHECKS)

    Sequences.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=ANY_HEALTH,
            # The server keeps what earlier sequences did, so a sequence cannot be replayed
            # as it first ran (shrinking, or the example database, would call that flaky).
            phases=[Phase.generate],
            database=None,
        )
    )
    # The links worked: ids taken from earlier answers reached existing things.
    found = {(method, path) for method, path, status in answered if "{" in path and status < 300}
    assert len(found) >= 3, sorted(answered)
