"""The refusals of a send for its recipients, worded once: the per-recipient path
(``accept``) and the sendings path (``bulk``) must answer a request alike."""

from __future__ import annotations

from smsgate.errors import InvalidRequest


def opted_out(numbers: list[str]) -> InvalidRequest:
    shown = ", ".join(f"+{n}" for n in numbers[:5])
    more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    return InvalidRequest(
        f"these numbers opted out of this account's messages: {shown}{more}",
        field="to",
        code="opted_out",
    )


def no_rate(name: str, msisdn: str) -> InvalidRequest:
    return InvalidRequest(f"no rate for destination {name} (+{msisdn})", field="to", code="no_rate")


def no_route(name: str, msisdn: str) -> InvalidRequest:
    return InvalidRequest(
        f"no route carries messages to {name} (+{msisdn})", field="to", code="no_route"
    )
