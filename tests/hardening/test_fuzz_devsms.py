"""Property-based fuzzing of the devsms.uz surface, ``/api/*.php``: every calling style it
accepts (a JSON body, with or without its Content-Type, an urlencoded or a multipart form,
the query string), with values of every type and encoding. Always a 4xx as
``{"success": false, "error": ...}``, or a 2xx when the input is valid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.hardening.conftest import BODY_LIMIT, DEVSMS_SENDER, Gate
from tests.hardening.fuzzing import (
    FUZZ,
    HUGE,
    PERCENT_JUNK,
    check,
    devsms_shape,
    every_raw_body,
    fields,
    form_bytes,
    json_bytes,
    json_values,
    multipart,
    numbers,
    raw_query,
    sweep,
    texts,
    wire_headers,
)

SEND = ["phone", "message", "from", "callback_url", "type"]
READS = {
    "/api/get_history.php": ["limit", "offset", "status"],
    "/api/get_status.php": ["sms_id", "request_id"],
    "/api/get_balance.php": [],
}
STYLES = ("json", "json_headerless", "form", "multipart", "query")
values = st.one_of(json_values, texts, numbers)
CHARSETS = [None, "utf-8", "latin-1", "utf-16", "no-such-charset"]
# The same Uzbek number as people write it; devsms.uz takes it with or without "+".
SAME_NUMBER = ["998901234567", "+998901234567", "+998 90 123 45 67", "998-90-123-45-67"]


def _call(
    http: httpx.Client,
    gate: Gate,
    path: str,
    body: dict[str, Any],
    style: str,
    charset: str | None = None,
) -> httpx.Response:
    headers: dict[str, str] = dict(gate.customer.headers)
    if style == "query":
        return http.post(f"{path}?{raw_query(body, [])}", headers=headers)
    if style == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http.post(path, content=form_bytes(body), headers=headers)
    if style == "multipart":
        content, headers["Content-Type"] = multipart(body, charset)
        return http.post(path, content=content, headers=headers)
    if style == "json":
        headers["Content-Type"] = "application/json"
    return http.post(path, content=json_bytes(body), headers=headers)


@FUZZ
@given(
    body=fields(SEND, values),
    style=st.sampled_from(STYLES),
    charset=st.sampled_from(CHARSETS),
)
def test_send_fields_in_every_style(
    http: httpx.Client, gate: Gate, body: dict[str, Any], style: str, charset: str | None
) -> None:
    check(_call(http, gate, "/api/send_sms.php", body, style, charset), devsms_shape)


@FUZZ
@given(
    path=st.sampled_from(sorted(READS)),
    data=st.data(),
    junk=st.lists(st.sampled_from(PERCENT_JUNK), max_size=3),
    post=st.booleans(),
)
def test_reads_with_odd_parameters(
    http: httpx.Client,
    gate: Gate,
    path: str,
    data: st.DataObject,
    junk: list[str],
    post: bool,
) -> None:
    params = data.draw(fields(READS[path], values))
    url = f"{path}?{raw_query(params, junk)}"
    if post:  # the same parameters in a JSON body
        answer = http.post(path, content=json_bytes(params), headers=gate.customer.headers)
    else:
        answer = http.get(url, headers=gate.customer.headers)
    check(answer, devsms_shape)


@FUZZ
@given(
    script=st.one_of(texts, st.sampled_from(["send_sms", "SEND_SMS.php", "x.php", ".php"]))
    # A name with "/" is a deeper path, which is not devsms.uz's (docs/api/devsms.md).
    .filter(lambda name: "/" not in name)
)
def test_unknown_scripts(http: httpx.Client, gate: Gate, script: str) -> None:
    name = quote(script.encode("utf-8", "surrogatepass"), safe="")
    path = f"/api/{name}" if name.endswith(".php") else f"/api/{name}.php"
    check(http.get(path, headers=gate.customer.headers), devsms_shape)


@FUZZ
@given(phone=st.sampled_from(SAME_NUMBER), style=st.sampled_from(STYLES))
def test_valid_sends_in_every_style_are_accepted(
    http: httpx.Client, gate: Gate, phone: str, style: str
) -> None:
    body = {"phone": phone, "message": "Salom 😀", "from": DEVSMS_SENDER}
    answer = _call(http, gate, "/api/send_sms.php", body, style)
    assert answer.status_code == 200, answer.text
    assert answer.json()["success"] is True


def test_every_odd_body_on_every_script(http: httpx.Client, gate: Gate) -> None:
    for path in ("/api/send_sms.php", "/api/get_history.php", "/api/get_status.php"):

        def send(body: bytes, content_type: str | None, p: str = path) -> httpx.Response:
            headers = wire_headers(gate.customer.headers, content_type)
            return http.post(p, content=body, headers=headers)

        every_raw_body(send, devsms_shape)


def test_every_odd_value_in_every_send_field(http: httpx.Client, gate: Gate) -> None:
    valid = {"phone": "998901234567", "message": "Salom", "from": DEVSMS_SENDER}
    valid |= {"callback_url": "https://example.com/cb", "type": "simple"}
    for style in ("json", "form", "multipart"):

        def send(body: dict[str, Any], style: str = style) -> httpx.Response:
            return _call(http, gate, "/api/send_sms.php", body, style)

        assert sweep(send, valid, devsms_shape) > 0


def test_every_odd_value_in_every_read_parameter(http: httpx.Client, gate: Gate) -> None:
    for path, valid in (
        ("/api/get_history.php", {"limit": "5", "offset": "0", "status": "waiting"}),
        ("/api/get_status.php", {"sms_id": _some_sms_id(http, gate)}),
    ):

        def read(params: dict[str, Any], path: str = path) -> httpx.Response:
            return http.get(f"{path}?{raw_query(params, [])}", headers=gate.customer.headers)

        sweep(read, valid, devsms_shape)


def _some_sms_id(http: httpx.Client, gate: Gate) -> str:
    body = {"phone": "998901234567", "message": "Salom", "from": DEVSMS_SENDER}
    answer = _call(http, gate, "/api/send_sms.php", body, "json")
    return str(answer.json()["data"]["sms_id"])


def test_a_body_over_the_limit_is_413_in_shape(http: httpx.Client, gate: Gate) -> None:
    assert HUGE > BODY_LIMIT
    body = {"phone": "998901234567", "message": "x" * HUGE}
    for style in ("json", "form", "multipart"):
        answer = _call(http, gate, "/api/send_sms.php", body, style)
        assert answer.status_code == 413, answer.text
        devsms_shape(answer)
