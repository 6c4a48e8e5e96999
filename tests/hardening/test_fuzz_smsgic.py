"""Property-based fuzzing of the SMSgic surface (root paths): every calling style it accepts
(a JSON body, an urlencoded form with ``recipients[]``, the query string, JSON inside the
query string), with values of every type and encoding. Always a 4xx in Laravel's shape
(``{"message": ...}``, ``errors`` by field on a 422), or a 2xx when the input is valid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.hardening.conftest import BODY_LIMIT, Gate
from tests.hardening.fuzzing import (
    CONTENT_TYPES,
    FUZZ,
    HUGE,
    PERCENT_JUNK,
    check,
    every_raw_body,
    fields,
    form_bytes,
    json_bytes,
    json_values,
    laravel_shape,
    numbers,
    raw_bodies,
    raw_query,
    sweep,
    texts,
    wire_headers,
)

SENDING = ["message", "recipients", "sender", "scheduled_at", "type"]
RATE_FILTERS = ["mcc", "mnc", "country", "country_id"]
STYLES = ("json", "form", "query", "json_query")
values = st.one_of(json_values, texts, numbers, st.lists(numbers, max_size=3))


def _call(
    http: httpx.Client, gate: Gate, method: str, path: str, body: dict[str, Any], style: str
) -> httpx.Response:
    """One request in one of SMSgic's calling styles."""
    headers: dict[str, str] = dict(gate.customer.headers)
    if style == "json":
        headers["Content-Type"] = "application/json"
        return http.request(method, path, content=json_bytes(body), headers=headers)
    if style == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http.request(method, path, content=_php_form(body), headers=headers)
    if style == "json_query":  # the seed's `curl -G -d '{...}'`
        return http.request(method, f"{path}?{quote(json_bytes(body))}", headers=headers)
    return http.request(method, f"{path}?{raw_query(body, [])}", headers=headers)


def _php_form(body: dict[str, Any]) -> bytes:
    """An urlencoded form as PHP clients write lists: ``recipients[]=a&recipients[]=b``."""
    flat: list[tuple[str, Any]] = []
    for name, value in body.items():
        items = value if isinstance(value, list) else [value]
        flat += [(f"{name}[]" if isinstance(value, list) else name, item) for item in items]
    return b"&".join(form_bytes({k: v}) for k, v in flat)


@FUZZ
@given(
    path=st.sampled_from(["/sendings", "/sendings/calculate"]),
    body=fields(SENDING, values),
    style=st.sampled_from(STYLES),
)
def test_sending_fields_in_every_style(
    http: httpx.Client, gate: Gate, path: str, body: dict[str, Any], style: str
) -> None:
    check(_call(http, gate, "POST", path, body, style), laravel_shape)


@FUZZ
@given(body=fields(RATE_FILTERS, values), style=st.sampled_from(STYLES))
def test_rate_filters_in_every_style(
    http: httpx.Client, gate: Gate, body: dict[str, Any], style: str
) -> None:
    check(_call(http, gate, "GET", "/rates", body, style), laravel_shape)


@FUZZ
@given(
    path=st.sampled_from(["/sendings", "/sendings/calculate", "/rates"]),
    body=raw_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_bodies_that_are_not_what_they_claim(
    http: httpx.Client, gate: Gate, path: str, body: bytes, content_type: str | None
) -> None:
    method = "GET" if path == "/rates" else "POST"
    headers = wire_headers(gate.customer.headers, content_type)
    check(http.request(method, path, content=body, headers=headers), laravel_shape)


@FUZZ
@given(
    path=st.sampled_from(["/sendings", "/balance", "/senders", "/rates"]),
    data=st.data(),
    junk=st.lists(st.sampled_from(PERCENT_JUNK), max_size=3),
)
def test_query_strings(
    http: httpx.Client, gate: Gate, path: str, data: st.DataObject, junk: list[str]
) -> None:
    params = data.draw(fields(["limit", "before_id", *RATE_FILTERS], values))
    answer = http.get(f"{path}?{raw_query(params, junk)}", headers=gate.customer.headers)
    check(answer, laravel_shape)


@FUZZ
@given(sending_id=st.one_of(texts, numbers, st.sampled_from(["1", "0", "-1", "1.0", "１"])))
def test_sending_ids(http: httpx.Client, gate: Gate, sending_id: str) -> None:
    path = "/sendings/" + quote(sending_id.encode("utf-8", "surrogatepass"), safe="")
    check(http.get(path, headers=gate.customer.headers), laravel_shape)


def test_every_odd_body_on_every_route(http: httpx.Client, gate: Gate) -> None:
    for method, path in (("POST", "/sendings"), ("POST", "/sendings/calculate"), ("GET", "/rates")):

        def send(body: bytes, content_type: str | None, p: str = path, m: str = method) -> Any:
            headers = wire_headers(gate.customer.headers, content_type)
            return http.request(m, p, content=body, headers=headers)

        every_raw_body(send, laravel_shape)


def test_every_odd_value_in_every_sending_field(http: httpx.Client, gate: Gate) -> None:
    valid = {"message": "hello", "recipients": ["37126123456"], "sender": gate.customer.sender}
    valid |= {"scheduled_at": "2030-01-01 09:00:00", "type": "default"}
    for style in ("json", "form"):

        def send(body: dict[str, Any], style: str = style) -> httpx.Response:
            return _call(http, gate, "POST", "/sendings", body, style)

        assert sweep(send, valid, laravel_shape) > 0


def test_every_odd_value_in_every_calculate_field(http: httpx.Client, gate: Gate) -> None:
    valid = {"message": "hello", "recipients": ["37126123456", "4520123456"]}

    def send(body: dict[str, Any]) -> httpx.Response:
        return _call(http, gate, "POST", "/sendings/calculate", body, "json")

    assert sweep(send, valid, laravel_shape) > 0


def test_a_body_over_the_limit_is_413_in_shape(http: httpx.Client, gate: Gate) -> None:
    assert HUGE > BODY_LIMIT
    body = {"message": "x" * HUGE, "recipients": ["37126123456"], "sender": "ACME"}
    answer = _call(http, gate, "POST", "/sendings", body, "json")
    assert answer.status_code == 413, answer.text
    laravel_shape(answer)
