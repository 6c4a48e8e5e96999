"""Property-based fuzzing of the sms.by surface, ``/api/v1/{command}``: every command with
values of every type and encoding, in every calling style sms.by's clients use (GET with a
query, POST with the query and an empty body, an urlencoded form, a JSON body with the token
inside, a multipart form). Always a 4xx as ``{"error": ...}``, or a 2xx when valid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.hardening.conftest import BODY_LIMIT, Gate
from tests.hardening.fuzzing import (
    FUZZ,
    HUGE,
    PERCENT_JUNK,
    check,
    every_raw_body,
    fields,
    form_bytes,
    json_bytes,
    json_values,
    multipart,
    numbers,
    raw_query,
    smsby_shape,
    sweep,
    texts,
    wire_headers,
)

# Every command smsgate serves and the parameters it reads.
COMMANDS: dict[str, list[str]] = {
    "getBalance": [],
    "getLimit": [],
    "getAlphanames": [],
    "getAlphanameId": ["name"],
    "sendQuickSMS": ["message", "phone", "alphaname_id"],
    "checkSMS": ["sms_id"],
    "createSmsMessage": ["message", "alphaname_id", "name", "time"],
    "checkSMSMessageStatus": ["message_id"],
    "getMessagesList": ["limit_offset", "limit_rows"],
    "sendSms": ["message_id", "phone"],
    "getSmsDeliveryList": ["message_id", "limit_offset", "limit_rows"],
    "createPasswordObject": ["type_id", "len"],
    "getPasswordObjects": [],
    "getPasswordObject": ["id"],
    "editPasswordObject": ["id", "type_id", "len"],
    "deletePasswordObject": ["id"],
    "sendSmsMessageWithCode": ["message", "password_object_id", "phone", "alphaname_id"],
    "getBills": ["page"],
    "createBill": ["amount", "amount_type", "type"],
    "downloadBill": ["bill_id"],
}
STYLES = ("get", "post_query", "post_form", "post_json", "post_multipart")
values = st.one_of(json_values, texts, numbers)
PHONE = "375291234567"  # Belarus, priced by the gate's plan
SAME_NUMBER = [PHONE, "+375291234567", "+375 29 123-45-67", "375 29 1234567"]


def _call(http: httpx.Client, gate: Gate, command: str, params: dict[str, Any], style: str) -> Any:
    url = f"/api/v1/{command}"
    token = {"token": gate.customer.token}
    if style == "get":
        return http.get(f"{url}?{raw_query(token | params, [])}")
    if style == "post_query":
        return http.post(f"{url}?{raw_query(token | params, [])}")
    if style == "post_form":
        body = form_bytes(token | params)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return http.post(url, content=body, headers=headers)
    if style == "post_json":
        headers = {"Content-Type": "application/json"}
        return http.post(url, content=json_bytes(token | params), headers=headers)
    content, kind = multipart(params)
    return http.post(
        f"{url}?{raw_query(token, [])}", content=content, headers={"Content-Type": kind}
    )


@FUZZ
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    data=st.data(),
    style=st.sampled_from(STYLES),
)
def test_every_command_in_every_style(
    http: httpx.Client, gate: Gate, command: str, data: st.DataObject, style: str
) -> None:
    params = data.draw(fields(COMMANDS[command], values))
    check(_call(http, gate, command, params, style), smsby_shape)


# A short list for the full grid below; the sweeps and hypothesis try the long ones.
GRID_VALUES: list[Any] = ["", "\x00", "\ud800", "\u202e1", "😀", "x" * 5000, "-1", 2**64, [], None]


def test_every_command_in_every_style_meets_odd_values(http: httpx.Client, gate: Gate) -> None:
    failures: list[str] = []
    for command, names in COMMANDS.items():
        for style in STYLES:
            for value in GRID_VALUES:
                params = dict.fromkeys(names or ["unknown"], value)
                try:
                    check(_call(http, gate, command, params, style), smsby_shape)
                except AssertionError as exc:
                    failures.append(f"{command} {style} {value!r:.30}: {exc}")
    assert not failures, "\n".join(failures[:20])


@FUZZ
@given(
    command=st.one_of(st.sampled_from(sorted(COMMANDS)), texts.filter(lambda c: "/" not in c)),
    junk=st.lists(st.sampled_from(PERCENT_JUNK), min_size=1, max_size=3),
    token=st.one_of(st.none(), texts, st.sampled_from(["sg_", "sg_" + "A" * 43])),
)
def test_odd_query_strings_commands_and_tokens(
    http: httpx.Client, gate: Gate, command: str, junk: list[str], token: str | None
) -> None:
    name = quote(command.encode("utf-8", "surrogatepass"), safe="")
    params = {"token": token if token is not None else gate.customer.token}
    check(http.get(f"/api/v1/{name}?{raw_query(params, junk)}"), smsby_shape)


@FUZZ
@given(phone=st.sampled_from(SAME_NUMBER), style=st.sampled_from(STYLES))
def test_valid_sends_in_every_style_are_accepted(
    http: httpx.Client, gate: Gate, phone: str, style: str
) -> None:
    answer = _call(http, gate, "sendQuickSMS", {"message": "Привет 😀", "phone": phone}, style)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "NEW"


def test_every_odd_body_on_a_command(http: httpx.Client, gate: Gate) -> None:
    def send(body: bytes, content_type: str | None) -> httpx.Response:
        url = f"/api/v1/sendQuickSMS?token={gate.customer.token}"
        return http.post(url, content=body, headers=wire_headers({}, content_type))

    every_raw_body(send, smsby_shape)


def test_every_odd_value_in_every_parameter(http: httpx.Client, gate: Gate) -> None:
    template = _call(http, gate, "createSmsMessage", {"message": "Your order is ready"}, "get")
    password = _call(http, gate, "createPasswordObject", {"type_id": "both", "len": "6"}, "get")
    message_id = template.json()["message_id"]
    object_id = password.json()["result"]["password_object_id"]
    valid_calls = [
        ("sendQuickSMS", {"message": "hi", "phone": PHONE, "alphaname_id": "0"}),
        ("sendSms", {"message_id": message_id, "phone": PHONE}),
        ("getSmsDeliveryList", {"message_id": message_id, "limit_offset": 0, "limit_rows": 5}),
        ("editPasswordObject", {"id": object_id, "type_id": "numbers", "len": "4"}),
        (
            "sendSmsMessageWithCode",
            {"message": "Code %CODE%", "password_object_id": object_id, "phone": PHONE},
        ),
        ("createBill", {"amount": "10", "amount_type": "sms", "type": "replenishment"}),
        ("getBills", {"page": "1"}),
    ]
    # Half the commands by query string, half by JSON body: both readers meet every value.
    for index, (command, valid) in enumerate(valid_calls):
        style = STYLES[index % 2 * 3]  # "get" or "post_json"

        def send(params: dict[str, Any], command: str = command, style: str = style) -> Any:
            return _call(http, gate, command, params, style)

        sweep(send, {k: str(v) for k, v in valid.items()}, smsby_shape)


def test_a_body_over_the_limit_is_413_in_shape(http: httpx.Client, gate: Gate) -> None:
    assert HUGE > BODY_LIMIT
    for style in ("post_form", "post_json", "post_multipart"):
        answer = _call(http, gate, "sendQuickSMS", {"message": "x" * HUGE, "phone": PHONE}, style)
        assert answer.status_code == 413, answer.text
        smsby_shape(answer)
