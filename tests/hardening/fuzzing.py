"""What the surface fuzzers share: odd values, odd encodings, and each surface's error shape.

A fuzzer sends what hypothesis draws and holds the answer to one rule: never a server error
and never a traceback; a 4xx in the shape of the surface the request came to; a 2xx only as
that surface's JSON (or the file a download route sends).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Per test and engine: enough to meet every kind of odd value, few enough for the CI budget.
EXAMPLES = 30
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# Larger than the gate's SMSGATE_MAX_BODY_BYTES: must answer 413 in shape.
HUGE = 300_000

# Characters that break naive text handling: NUL and controls, right-to-left and other
# invisible marks, combining marks, emoji (outside the BMP: two UCS-2 units), a BOM, a lone
# surrogate (valid in JSON, not in UTF-8), GSM-7 extension characters, quotes and markup.
ODD_TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\u202eevil\u202c",
    "\u200f\u200e\u200b\u2066x\u2069",
    "e\u0301\u0301\u0301",
    "Z\u0351\u0307\u0308\u0332",
    "😀👍🏽👨‍👩‍👧",
    "\ufeffhello",
    "\ud800",
    "\udfff\ud800",
    "€^{}[]~|\\",
    "Привет, мир",
    "שלום עולם",
    "مرحبا",
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script>",
    "%s%n%x{0}${x}",
    "=cmd|' /C calc'!A0",
    "\u0000" * 3,
    "x" * 5000,
]

# Phone numbers as people and programs write them, well and badly.
ODD_NUMBERS = [
    "+371 2612 3456",
    "00371-26-123-456",
    "(371) 26123456",
    "371.2612.3456",
    "+37126123456",
    "37126123456",
    "+",
    "++37126123456",
    "371261234ab",
    "abc",
    "３７１２６１２３４５６",  # full-width digits
    "٣٧١٢٦١٢٣٤٥٦",  # Arabic-Indic digits
    "37126123456\x00",
    "\u202e65432162173",
    "-37126123456",
    "0",
    "1" * 40,
    "9" * 400,
    " ",
    "",
]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(ODD_TEXTS),
    st.sampled_from(ODD_NUMBERS),
    st.text(max_size=30),
)
# Any JSON value: the wrong types for every field.
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
texts = st.one_of(st.sampled_from(ODD_TEXTS), st.text(max_size=200))
numbers = st.one_of(st.sampled_from(ODD_NUMBERS), st.text(alphabet="0123456789+ -()", max_size=25))
# A query or form value: text, a number written oddly, or a percent-escape that decodes to
# invalid UTF-8 or a NUL.
PERCENT_JUNK = ["%ff", "%fe%ff", "%c3%28", "%00", "%e2%82", "%ed%a0%80", "%", "%zz", "%%"]


def fields(known: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of a route's fields (maybe none, maybe all) plus maybe unknown ones."""
    return st.fixed_dictionaries(
        {}, optional=dict.fromkeys(known, values) | {"extra_field": json_values}
    )


def raw_query(params: dict[str, Any], junk: list[str]) -> str:
    """A query string: the values percent-encoded as UTF-8, then raw escapes appended."""
    pairs = [f"{quote(str(k))}={quote(_text(v), safe='')}" for k, v in params.items()]
    return "&".join(pairs + junk)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return json.dumps(value)


def json_bytes(body: Any) -> bytes:
    """JSON with every odd character kept (a lone surrogate as its \\u escape)."""
    return json.dumps(body, ensure_ascii=True).encode()


def form_bytes(body: dict[str, Any]) -> bytes:
    return "&".join(f"{quote(str(k))}={quote(_text(v), safe='')}" for k, v in body.items()).encode()


def multipart(body: dict[str, Any], charset: str | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body, built by hand to carry any bytes and charset."""
    boundary = "fuzzboundary7MA4YWxk"
    parts = []
    for name, value in body.items():
        kind = f"text/plain; charset={charset}" if charset else "text/plain"
        head = f'Content-Disposition: form-data; name="{name}"\r\nContent-Type: {kind}\r\n\r\n'
        data = value if isinstance(value, bytes) else _text(value).encode("utf-8")
        parts.append(f"--{boundary}\r\n".encode() + head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


# Bodies that are not what they claim: invalid UTF-8, truncated or nested-deep JSON, NULs.
RAW_BODIES = [
    b"",
    b"\x00",
    b"\xff\xfe\xfd",
    b"\xef\xbb\xbf{}",
    b'{"a": "\xff"}',
    # right shape, but a string that is not UTF-8 (each surface's own field names)
    b'{"to": "+37126123456", "text": "\xff", "sender": "ACME"}',
    b'{"message": "\xfe\xff", "recipients": ["37126123456"], "sender": "ACME"}',
    b'{"phone": "998901234567", "message": "\xc3\x28"}',
    b'{"recipients": ["\xff"], "text": "x", "to": ["\xff"]}',
    b"{",
    b'{"message": ',
    b"[]",
    b"null",
    b"42",
    b'"text"',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"a=1&a=2&a[]=3&a[x]=4",
    b"%ff=%fe&%00=%00",
    b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--",
]
raw_bodies = st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=200))
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "multipart/form-data; boundary=",
    "text/plain",
    "text/csv",
    "application/xml",
    "image/png",
    "application/json; charset=ünï",
]


# --- the rule ---------------------------------------------------------------------------

Shape = Callable[[httpx.Response], None]


def check(answer: httpx.Response, shape: Shape) -> None:
    """Never a server error or a traceback; a 4xx in the surface's shape; a 2xx as JSON."""
    assert answer.status_code < 500, _show(answer)
    assert b"Traceback" not in answer.content, _show(answer)
    if answer.status_code >= 400:
        shape(answer)
    elif answer.headers.get("content-type", "").startswith("application/json"):
        answer.json()


def _show(answer: httpx.Response) -> str:
    request = answer.request
    return f"{request.method} {request.url} -> {answer.status_code} {answer.text[:500]}"


def _json(answer: httpx.Response, media: str = "application/json") -> Any:
    assert answer.headers.get("content-type", "").startswith(media), _show(answer)
    return answer.json()


def problem_shape(answer: httpx.Response) -> None:
    """The native and admin APIs: RFC 9457 problem details."""
    body = _json(answer, "application/problem+json")
    assert body["status"] == answer.status_code, _show(answer)
    assert isinstance(body["code"], str) and body["code"], _show(answer)
    assert isinstance(body["detail"], str) and body["detail"], _show(answer)
    assert body["type"].endswith("/" + body["code"]), _show(answer)


def laravel_shape(answer: httpx.Response) -> None:
    """SMSgic: ``{"message": ...}``, plus ``errors`` by field on a 422."""
    body = _json(answer)
    assert isinstance(body["message"], str) and body["message"], _show(answer)
    if answer.status_code == 422:
        errors = body["errors"]
        assert errors and all(
            isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)
            for texts in errors.values()
        ), _show(answer)
    else:
        assert set(body) == {"message"}, _show(answer)


def devsms_shape(answer: httpx.Response) -> None:
    """devsms.uz: ``{"success": false, "error": ...}``."""
    body = _json(answer)
    assert set(body) == {"success", "error"} and body["success"] is False, _show(answer)
    assert isinstance(body["error"], str) and body["error"], _show(answer)


def smsby_shape(answer: httpx.Response) -> None:
    """sms.by: ``{"error": ...}``."""
    body = _json(answer)
    assert list(body) == ["error"] and isinstance(body["error"], str), _show(answer)
    assert body["error"], _show(answer)


# --- sweeps: every odd value in every field, each at least once ----------------------------

MISSING = object()
# Wrong types and edge numbers, beside the odd texts and numbers.
ODD_JSON: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    2**64,
    -(2**64),
    [],
    {},
    ["x"],
    {"a": 1},
]
ODD_VALUES: list[Any] = [*ODD_TEXTS, *ODD_NUMBERS, *ODD_JSON, MISSING]


def sweep(
    send: Callable[[dict[str, Any]], httpx.Response],
    valid: dict[str, Any],
    shape: Shape,
    values: list[Any] = ODD_VALUES,
) -> int:
    """Send ``valid`` with each field in turn replaced by each value (or left out); every
    answer must keep the rule. ``valid`` itself must succeed, so the sweep reaches the
    route's own checks rather than stopping at the door. Returns how many were refused."""
    first = send(valid)
    assert first.status_code < 300, _show(first)
    failures: list[str] = []
    refused = 0
    for name in valid:
        for value in values:
            body = {k: v for k, v in valid.items() if k != name}
            if value is not MISSING:
                body[name] = value
            answer = send(body)
            refused += answer.status_code >= 400
            try:
                check(answer, shape)
            except AssertionError as exc:
                failures.append(f"{name}={value!r:.60}: {exc}")
    assert not failures, "\n".join(failures[:20])
    return refused


def every_raw_body(send: Callable[[bytes, str | None], httpx.Response], shape: Shape) -> None:
    """Each of ``RAW_BODIES`` under each of ``CONTENT_TYPES``: every answer keeps the rule."""
    failures: list[str] = []
    for body in RAW_BODIES:
        for content_type in CONTENT_TYPES:
            try:
                check(send(body, content_type), shape)
            except AssertionError as exc:
                failures.append(f"{body[:40]!r} as {content_type}: {exc}")
    assert not failures, "\n".join(failures[:20])


def wire_headers(base: Mapping[str, str], content_type: str | None = None) -> dict[bytes, bytes]:
    """``base`` plus a Content-Type (or none), as bytes: some content types are not ASCII."""
    headers = {name.encode(): value.encode() for name, value in base.items()}
    if content_type is not None:
        headers[b"content-type"] = content_type.encode()
    return headers
