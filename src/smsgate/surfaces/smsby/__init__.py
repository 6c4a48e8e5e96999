"""The sms.by surface, ``/api/v1/{command}``: a drop-in for sms.by's official clients.

Thin on purpose: each command turns its parameters into core calls and the result into the
JSON sms.by documents. Choices the sources leave open are explained in ``docs/api/smsby.md``.

    _transport.py  parameters, token, rate limit, JSON encoding, errors, the command table
    _account.py    getBalance, getLimit, getAlphanames, getAlphanameId
    _bills.py      getBills, createBill, downloadBill (seed 000)
    _sms.py        sendQuickSMS, createSmsMessage, sendSms, checkSMS, message lists
    _codes.py      password objects and sendSmsMessageWithCode
"""

from fastapi import APIRouter, Request
from starlette.responses import Response

from smsgate.surfaces.smsby import _account, _bills, _codes, _sms  # noqa: F401 (register commands)
from smsgate.surfaces.smsby._transport import COMMANDS, dispatch

router = APIRouter(tags=["sms.by"])


_DESCRIPTION = (
    "Parameters in the query string, an urlencoded or multipart form, or a JSON body; the "
    "token as `token` or `Authorization: Bearer`. See docs/api/smsby.md."
)


# Two decorators, not one api_route with both methods: that gives both operations one
# OpenAPI operation id.
@router.get("/api/v1/{command}", summary="sms.by API v1 command", description=_DESCRIPTION)
@router.post("/api/v1/{command}", summary="sms.by API v1 command", description=_DESCRIPTION)
async def smsby_command(command: str, request: Request) -> Response:
    return await dispatch(command, request)


__all__ = ["COMMANDS", "router"]
