"""Property-based fuzzing of the native API, ``/v1``: bodies of every type and encoding,
query strings with odd and undecodable values, odd headers. Always a 4xx as problem+json,
or a 2xx when the input is valid; never a server error.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from smsgate.kit.text import storable
from tests.hardening.conftest import BODY_LIMIT, Gate
from tests.hardening.fuzzing import (
    CONTENT_TYPES,
    FUZZ,
    HUGE,
    PERCENT_JUNK,
    check,
    every_raw_body,
    fields,
    json_bytes,
    json_values,
    numbers,
    problem_shape,
    raw_bodies,
    raw_query,
    sweep,
    texts,
    wire_headers,
)

SEND_FIELDS = ["to", "text", "sender", "scheduled_at", "callback_url"]
SENDING_FIELDS = ["recipients", "text", "sender", "scheduled_at", "callback_url", "type"]
# GET routes and the query parameters each reads.
READS = {
    "/v1/messages": ["status", "since", "until", "phone", "sending_id", "limit", "cursor"],
    "/v1/ledger": ["limit", "cursor", "since", "until"],
    "/v1/ledger.csv": ["since", "until"],
    "/v1/sendings": ["limit", "cursor"],
    "/v1/rates": ["mcc", "mnc", "country"],
    "/v1/invoices": ["status", "limit", "offset"],
    "/v1/inbound": ["limit", "cursor"],
    "/v1/webhooks/deliveries": ["status", "message_id", "limit", "cursor"],
    "/v1/messages/1": [],
    "/v1/sendings/1": [],
}
query_values = st.one_of(
    texts,
    numbers,
    st.sampled_from(["2026-01-01", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]),
    st.sampled_from(["9999-12-31T23:59:59-05:00", "1e9", "-1", "²", "٣", "NaN", "null"]),
    st.integers(),
)
# Every way to write one Latvian mobile number that the native API accepts.
SAME_NUMBER = [
    "+37126123456",
    "37126123456",
    "+371 2612 3456",
    "00371 26 12 34 56",
    "(371) 2612-3456",
]
valid_texts = st.one_of(
    st.sampled_from(["😀👍🏽", "e\u0301", "\u202ertl\u202c", "שלום", "€[]{}", "Привет", " x "]),
    st.text(min_size=1, max_size=60).filter(storable),
)


def _headers(gate: Gate, content_type: str | None = None) -> dict[bytes, bytes]:
    return wire_headers(gate.customer.headers, content_type)


@FUZZ
@given(
    path=st.sampled_from(["/v1/messages", "/v1/quote", "/v1/sendings", "/v1/senders"]),
    body=raw_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_bodies_that_are_not_json(
    http: httpx.Client, gate: Gate, path: str, body: bytes, content_type: str | None
) -> None:
    answer = http.post(path, content=body, headers=_headers(gate, content_type))
    check(answer, problem_shape)
    assert answer.status_code >= 400 or body.strip().startswith(b"{")


@FUZZ
@given(body=fields(SEND_FIELDS, st.one_of(json_values, texts, numbers)))
def test_send_fields_of_any_type(http: httpx.Client, gate: Gate, body: dict[str, Any]) -> None:
    answer = http.post("/v1/messages", content=json_bytes(body), headers=_headers(gate))
    check(answer, problem_shape)


@FUZZ
@given(
    path=st.sampled_from(["/v1/sendings", "/v1/quote"]),
    body=fields([*SENDING_FIELDS, "to"], st.one_of(json_values, texts, st.lists(numbers))),
)
def test_campaign_and_quote_fields_of_any_type(
    http: httpx.Client, gate: Gate, path: str, body: dict[str, Any]
) -> None:
    headers = _headers(gate, "application/json")
    check(http.post(path, content=json_bytes(body), headers=headers), problem_shape)


@FUZZ
@given(
    path=st.sampled_from(sorted(READS)),
    data=st.data(),
    junk=st.lists(st.sampled_from(PERCENT_JUNK), max_size=3),
)
def test_query_strings(
    http: httpx.Client, gate: Gate, path: str, data: st.DataObject, junk: list[str]
) -> None:
    params = data.draw(fields(READS[path], query_values))
    answer = http.get(f"{path}?{raw_query(params, junk)}", headers=_headers(gate))
    check(answer, problem_shape)


def _field_value(raw: bytes) -> bool:
    """What HTTP lets a header carry: visible bytes, spaces and tabs, and obs-text (>= 0x80).
    Anything else the server's HTTP parser refuses before smsgate sees it."""
    return all((b >= 0x20 and b != 0x7F) or b == 0x09 for b in raw)


@FUZZ
@given(
    key=st.one_of(st.text(max_size=300), st.sampled_from(["", " ", "k" * 201, "é", "\u202e"]))
    # HTTP drops a value's surrounding whitespace; h11 will not send it.
    .map(lambda k: k.encode("utf-8", "surrogatepass").strip(b" \t"))
    .filter(_field_value),
    text=texts,
)
def test_idempotency_keys(http: httpx.Client, gate: Gate, key: bytes, text: str) -> None:
    headers = _headers(gate)
    headers[b"idempotency-key"] = key
    body = {"to": "+37126123456", "text": text, "sender": gate.customer.sender}
    answer = http.post("/v1/messages", content=json_bytes(body), headers=headers)
    check(answer, problem_shape)


@FUZZ
@given(to=st.sampled_from(SAME_NUMBER), text=valid_texts)
def test_valid_sends_written_oddly_are_accepted(
    http: httpx.Client, gate: Gate, to: str, text: str
) -> None:
    body = {"to": to, "text": text, "sender": gate.customer.sender}
    answer = http.post("/v1/messages", content=json_bytes(body), headers=_headers(gate))
    assert answer.status_code == 200, answer.text
    (message,) = answer.json()["messages"]
    assert message["to"] == "37126123456" and message["parts"] >= 1


def test_a_body_over_the_limit_is_413_in_shape(http: httpx.Client, gate: Gate) -> None:
    assert HUGE > BODY_LIMIT
    body = {"to": "+37126123456", "text": "x" * HUGE, "sender": gate.customer.sender}
    for path in ("/v1/messages", "/v1/sendings", "/v1/quote"):
        answer = http.post(path, content=json_bytes(body), headers=_headers(gate))
        assert answer.status_code == 413, answer.text
        problem_shape(answer)
        assert answer.json()["code"] == "body_too_large"


def test_every_odd_body_on_every_post_route(http: httpx.Client, gate: Gate) -> None:
    for path in ("/v1/messages", "/v1/quote", "/v1/sendings", "/v1/senders", "/v1/webhooks"):
        method = "PUT" if path == "/v1/webhooks" else "POST"

        def send(body: bytes, content_type: str | None, p: str = path, m: str = method) -> Any:
            return http.request(m, p, content=body, headers=_headers(gate, content_type))

        every_raw_body(send, problem_shape)


def test_every_odd_value_in_every_send_field(http: httpx.Client, gate: Gate) -> None:
    def send(body: dict[str, Any]) -> httpx.Response:
        return http.post("/v1/messages", content=json_bytes(body), headers=_headers(gate))

    valid = {"to": "+37126123456", "text": "hello", "sender": gate.customer.sender}
    valid |= {"scheduled_at": "2030-01-01T00:00:00Z", "callback_url": "https://example.com/cb"}
    assert sweep(send, valid, problem_shape) > 0


def test_every_odd_value_in_every_campaign_field(http: httpx.Client, gate: Gate) -> None:
    def send(body: dict[str, Any]) -> httpx.Response:
        headers = _headers(gate, "application/json")
        return http.post("/v1/sendings", content=json_bytes(body), headers=headers)

    valid = {"recipients": ["+37126123456"], "text": "hi", "sender": gate.customer.sender}
    valid |= {"type": "default", "scheduled_at": "2030-01-01T00:00:00Z"}
    assert sweep(send, valid, problem_shape) > 0
