"""Two-factor codes: password objects (an alphabet and a length) and sending a code."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.errors import InvalidRequest
from smsgate.surfaces.smsby._sms import send_one, sender_id
from smsgate.surfaces.smsby._transport import Call, answer, command
from smsgate.templates import service as templates
from smsgate.templates.models import PasswordObject

_WHOLE = re.compile(r"^\s*-?[0-9]{1,6}\s*$")


def _object(call: Call, obj: PasswordObject) -> dict[str, object]:
    return {
        "id": obj.id,
        "type_id": obj.kind,
        "len": obj.length,
        "d_create": call.local_time(obj.created_at),
    }


def _length(call: Call, required: bool) -> int | None:
    raw = call.get("len") if not required else call.require("len")
    if raw is None:
        return None
    if not _WHOLE.match(raw):
        raise InvalidRequest(f"len must be a whole number, not {raw[:20]!r}", field="len")
    return int(raw)


def _kind(call: Call, required: bool) -> str | None:
    raw = call.get("type_id") if not required else call.require("type_id")
    return raw.strip().lower() if raw is not None else None


@command("createPasswordObject")
async def create_password_object(call: Call) -> Response:
    kind, length = _kind(call, True), _length(call, True)
    assert kind is not None and length is not None
    obj = await call.write(
        lambda s: templates.create_password_object(s, call.account_id, kind, length)
    )
    return answer({"result": {"password_object_id": obj.id}})


@command("getPasswordObjects")
async def get_password_objects(call: Call) -> Response:
    rows = await call.read(lambda s: templates.list_password_objects(s, call.account_id))
    return answer({"result": [_object(call, obj) for obj in rows]})


@command("getPasswordObject")
async def get_password_object(call: Call) -> Response:
    object_id = call.ident("id")
    obj = await call.read(lambda s: templates.get_password_object(s, call.account_id, object_id))
    return answer({"result": _object(call, obj)})


@command("editPasswordObject")
async def edit_password_object(call: Call) -> Response:
    object_id, kind, length = call.ident("id"), _kind(call, False), _length(call, False)
    await call.write(
        lambda s: templates.edit_password_object(
            s, call.account_id, object_id, kind=kind, length=length
        )
    )
    return answer({"result": "1"})


@command("deletePasswordObject")
async def delete_password_object(call: Call) -> Response:
    object_id = call.ident("id")
    await call.write(lambda s: templates.delete_password_object(s, call.account_id, object_id))
    return answer({"result": "1"})


@command("sendSmsMessageWithCode")
async def send_sms_message_with_code(call: Call) -> Response:
    text, phone = call.require("message"), call.require("phone")
    object_id, wanted = call.ident("password_object_id"), sender_id(call)

    def work(session: Session) -> tuple[str, str, str]:
        obj = templates.get_password_object(session, call.account_id, object_id)
        filled, code = templates.fill_code(text, obj)
        return filled, code, templates.resolve_sender(session, call.account_id, wanted).name

    filled, code, sender = await call.read(work)
    message = (await send_one(call, phone, filled, sender)).messages[0]
    return answer(
        {
            "status": "ok",
            "parts": message.parts,
            "len": len(filled),
            "sms_id": message.id,
            "code": code,
        }
    )
