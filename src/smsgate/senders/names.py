"""What a sender name may be: up to 11 letters and digits (an alphanumeric originator, as
GSM 03.38 allows in the TP-OA field) or a number of up to 15 digits (E.164)."""

from __future__ import annotations

import re

from smsgate.errors import InvalidRequest

ALPHA_SENDER = re.compile(r"^[A-Za-z0-9 .\-_&]{1,11}$")
NUMERIC_SENDER = re.compile(r"^\+?\d{1,15}$")


def check_sender(sender: str) -> str:
    """The name without surrounding spaces, or a refusal naming the ``sender`` field."""
    sender = sender.strip()
    if not sender:
        raise InvalidRequest("a sender name is required", field="sender", code="sender_required")
    if not (ALPHA_SENDER.match(sender) or NUMERIC_SENDER.match(sender)):
        raise InvalidRequest(
            f"sender {sender!r} must be up to 11 letters/digits or a number of up to 15 digits",
            field="sender",
            code="invalid_sender",
        )
    return sender
