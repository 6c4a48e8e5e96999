"""SMSgic's parameters, read as Laravel's ``$request->input()`` reads them.

Parameters come from the query string and the body (JSON, or urlencoded with PHP's
``name[]`` lists), the body winning; unknown ones are ignored; strings are trimmed and an
empty string counts as absent (Laravel's ``TrimStrings`` and ``ConvertEmptyStringsToNull``).
The checks here are input syntax only, in SMSgic's words; every business rule (approved
sender, rates, balance, segment limit) stays in the core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, unquote
from zoneinfo import ZoneInfo

import msgspec
import phonenumbers
from starlette.requests import Request

from smsgate.errors import InvalidRequest
from smsgate.numbering._table import load_tables
from smsgate.surfaces.deps import BAD_JSON, read_body

# The seed's own texts, literally (backquotes and "recipient`s" included).
MISSING_MESSAGE = "Please send `message` post parameter with text for SMS"
MISSING_RECIPIENTS = "Please send `recipients` post parameter with recipient`s number"
MISSING_SENDER = "Please send `sender` post parameter with name of SMS sender"
# Laravel reports every bad array item; past this many the rest are left out.
MAX_ITEM_ERRORS = 10

_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_MNC = re.compile(r"\d{0,3}")
_MCC = re.compile(r"\d{3}")
_ERROR_PATH = re.compile(r"at `\$\.(\w+)(?:\[(\d+)\])?`")
_KINDS = {"recipients": "an array"}


class SendingBody(msgspec.Struct):
    """The body of ``POST /sendings`` and ``POST /sendings/calculate``."""

    message: str | None = None
    # A JSON array, or the seed curl's JSON-encoded string "[\"3712...\"]", or one number.
    recipients: list[str | int] | str | int | None = None
    sender: str | int | None = None
    scheduled_at: str | None = None
    type: str | None = None


_decoder = msgspec.json.Decoder(SendingBody)


@dataclass(slots=True)
class SendingInput:
    message: str = ""
    recipients: list[str] = field(default_factory=list)
    sender: str = ""
    scheduled_at: datetime | None = None
    type: str = "default"


@dataclass(frozen=True, slots=True)
class RateFilter:
    mcc: str | None = None
    mnc: str | None = None
    mnc_null: bool = False
    country: str | None = None
    mccs: frozenset[str] | None = None  # the MCCs of `country_id`, a calling code


def attribute(name: str) -> str:
    """How Laravel names a field in its messages: ``scheduled_at`` → ``scheduled at``."""
    return name.replace("_", " ")


def php_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
    """PHP's reading of ``a=1&b[]=2&b[1]=3``: scalars, and lists for bracketed names."""
    fields: dict[str, object] = {}
    for key, value in pairs:
        name, bracket, _ = key.partition("[")
        if bracket and name:
            items = fields.get(name)
            if not isinstance(items, list):
                items = fields[name] = []
            items.append(value)
        else:
            fields[key] = value
    return fields


def _bad_json(where: str) -> InvalidRequest:
    return InvalidRequest(f"the {where} is not valid JSON", field="body", code="malformed_json")


def _json_object(raw: bytes, where: str) -> dict[str, object]:
    try:
        fields = msgspec.json.decode(raw)
    except BAD_JSON as exc:
        raise _bad_json(where) from exc
    if not isinstance(fields, dict):
        raise InvalidRequest(f"the {where} must be a JSON object", field="body")
    return fields


def query_fields(request: Request) -> dict[str, object]:
    raw = request.url.query
    if not raw:
        return {}
    text = unquote(raw)
    if text.lstrip().startswith("{"):
        # The seed's `curl -G -d '{"mcc":"742",...}'` puts the JSON itself in the query.
        return _json_object(text.encode(), "query string")
    return php_pairs(parse_qsl(raw, keep_blank_values=True))


def _is_form(request: Request, raw: bytes) -> bool:
    # A body that looks like JSON is JSON whatever the Content-Type: `curl -d '{...}'`
    # without -H 'Content-Type: application/json' says urlencoded.
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"{")


def _form(raw: bytes) -> dict[str, object]:
    try:
        return php_pairs(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the form body is not valid UTF-8", field="body") from exc


async def request_fields(request: Request) -> dict[str, object]:
    """Query and body parameters merged, the body winning (GET /rates)."""
    merged = query_fields(request)
    raw = await read_body(request)
    if raw.strip():
        merged.update(_form(raw) if _is_form(request, raw) else _json_object(raw, "request body"))
    return merged


def _type_error(exc: msgspec.ValidationError) -> InvalidRequest:
    found = _ERROR_PATH.search(str(exc))
    if found is None:
        return InvalidRequest("the request body must be a JSON object", field="body")
    name, index = found.groups()
    if index is not None:
        return InvalidRequest(_item_error(name, int(index)), field=f"{name}.{index}")
    kind = _KINDS.get(name, "a string")
    return InvalidRequest(f"The {attribute(name)} must be {kind}.", field=name)


def _convert(fields: dict[str, object]) -> SendingBody:
    try:
        return msgspec.convert(fields, SendingBody, strict=False)
    except msgspec.ValidationError as exc:
        raise _type_error(exc) from exc


async def sending_body(request: Request) -> SendingBody:
    """The body decoded straight into a msgspec struct (the hot path), plus the query."""
    raw = await read_body(request)
    if _is_form(request, raw):
        body = _convert(_form(raw))
    elif raw.strip():
        try:
            body = _decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise _type_error(exc) from exc
        except BAD_JSON as exc:
            raise _bad_json("request body") from exc
    else:
        body = SendingBody()
    if request.url.query:
        query = _convert(query_fields(request))
        for name in SendingBody.__struct_fields__:
            if getattr(body, name) is None:
                setattr(body, name, getattr(query, name))
    return body


def _text(value: str | int | None) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _item_error(name: str, index: int) -> str:
    return f"The {name}.{index} format is invalid (8 to 20 digits expected)."


_NOT_ARRAY = "The recipients must be an array."


def _recipient_list(
    value: list[str | int] | str | int | None, errors: dict[str, list[str]]
) -> list[object]:
    """The recipients as given, to be checked item by item; empty when absent."""
    if isinstance(value, list):
        return list(value)
    if not isinstance(value, str):
        return [] if value is None else [value]
    text = value.strip()
    if not text.startswith("["):
        return [text] if text else []  # one number as a plain string
    try:
        decoded = msgspec.json.decode(text)
    except BAD_JSON:
        decoded = None
    if not isinstance(decoded, list):
        errors["recipients"] = [_NOT_ARRAY]
        return []
    return decoded


def _recipients(
    value: list[str | int] | str | int | None, errors: dict[str, list[str]]
) -> list[str]:
    given = _recipient_list(value, errors)
    if not given:
        errors.setdefault("recipients", [MISSING_RECIPIENTS])
        return []
    numbers: list[str] = []
    bad = 0
    for index, item in enumerate(given):
        number = item.strip() if isinstance(item, str) else None
        if isinstance(item, int) and not isinstance(item, bool):
            number = str(item)
        if number is None or not (number.isascii() and number.isdigit() and 8 <= len(number) <= 20):
            bad += 1
            if bad <= MAX_ITEM_ERRORS:
                errors[f"recipients.{index}"] = [_item_error("recipients", index)]
            continue
        numbers.append(number)
    return numbers


def check_sending(
    body: SendingBody, *, zone: str = "UTC", need_sender: bool = True
) -> tuple[SendingInput, dict[str, list[str]]]:
    """The input, and the errors keyed by field in SMSgic's order (none when valid)."""
    errors: dict[str, list[str]] = {}
    found = SendingInput(message=_text(body.message))
    if not found.message:
        errors["message"] = [MISSING_MESSAGE]
    found.recipients = _recipients(body.recipients, errors)
    if not need_sender:
        return found, errors
    found.sender = _text(body.sender)
    if not found.sender:
        errors["sender"] = [MISSING_SENDER]
    when = _text(body.scheduled_at)
    if when:
        try:
            if not _LOCAL_TIME.fullmatch(when):
                raise ValueError(when)
            found.scheduled_at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=ZoneInfo(zone)
            )
        except ValueError:
            errors["scheduled_at"] = ["The scheduled at does not match the format Y-m-d H:i:s."]
    found.type = _text(body.type) or "default"
    return found, errors


def _filter_text(fields: dict[str, object], name: str, errors: dict[str, list[str]]) -> str | None:
    value = fields.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    if value is not None:
        errors[name] = [f"The {attribute(name)} must be a string."]
    return None


def _calling_code_mccs(code: int) -> frozenset[str]:
    """``country_id`` is an E.164 calling code: 371 is Latvia, 1 the NANP countries."""
    countries = load_tables().countries
    return frozenset(
        countries[region].mcc
        for region in phonenumbers.region_codes_for_country_code(code)
        if region in countries
    )


def check_rate_filter(fields: dict[str, object]) -> tuple[RateFilter, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    mcc = _filter_text(fields, "mcc", errors)
    mnc = _filter_text(fields, "mnc", errors)
    country = _filter_text(fields, "country", errors)
    if mcc is not None and not _MCC.fullmatch(mcc):
        errors["mcc"] = ["The mcc format is invalid (three digits expected)."]
    mnc_null = mnc in ("null", "'null'")
    if mnc is not None and not mnc_null and not _MNC.fullmatch(mnc):
        errors["mnc"] = ["The mnc format is invalid (up to three digits, or null)."]
    if mnc is not None and mcc is None and "mcc" not in errors:
        errors["mcc"] = ["The mcc field is required when mnc is present."]
    mccs = None
    raw_id = _filter_text(fields, "country_id", errors)
    if raw_id is not None:
        if not (raw_id.isascii() and raw_id.isdigit()):
            errors["country_id"] = ["The country id must be an integer (a calling code)."]
        else:
            mccs = _calling_code_mccs(int(raw_id)) if len(raw_id) <= 3 else frozenset()
            if not mccs:
                errors["country_id"] = ["The selected country id is invalid."]
    found = RateFilter(
        mcc=mcc,
        mnc=None if mnc_null else mnc,
        mnc_null=mnc_null,
        country=country,
        mccs=mccs,
    )
    return found, errors
