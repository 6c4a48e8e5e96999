"""Single SMS and message templates: send, create, status and lists."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.responses import Response

from smsgate.errors import InvalidRequest
from smsgate.messaging import queries
from smsgate.messaging.prepare import Accepted, SendRequest
from smsgate.messaging.segments import count_segments
from smsgate.messaging.status import MessageStatus
from smsgate.surfaces.smsby._transport import SMS_STATUS, Call, answer, command, unix
from smsgate.templates import service as templates
from smsgate.templates.models import MessageTemplate

SURFACE = "smsby"
MODERATED = "moderated"  # templates need no moderation here: sender names are approved instead
MAX_ROWS = 1000
DEFAULT_ROWS = 100


def sender_id(call: Call) -> int | None:
    """``alphaname_id``: an approved sender's id; absent or 0 is the system name."""
    raw = call.get("alphaname_id")
    if raw is None or raw.strip() == "0":
        return None
    if not (raw.strip().isascii() and raw.strip().isdigit()) or len(raw.strip()) > 18:
        raise InvalidRequest(
            f"alphaname_id {raw[:20]!r} is not an id", field="alphaname_id", code="invalid_sender"
        )
    return int(raw)


async def send_one(call: Call, phone: str, text: str, sender: str) -> Accepted:
    return await call.rt.sends.send(
        SendRequest(
            account_id=call.account_id,
            recipients=[phone],
            text=text,
            sender=sender,
            surface=SURFACE,
        )
    )


def _rows(call: Call) -> tuple[int, int]:
    return call.integer("limit_rows", DEFAULT_ROWS, low=1, high=MAX_ROWS), call.integer(
        "limit_offset", 0
    )


@command("sendQuickSMS")
async def send_quick_sms(call: Call) -> Response:
    text, phone, wanted = call.require("message"), call.require("phone"), sender_id(call)
    # forwarding_message / vibername_id (Viber fallback) are ignored: there is no Viber channel.
    sender = await call.read(lambda s: templates.resolve_sender(s, call.account_id, wanted).name)
    message = (await send_one(call, phone, text, sender)).messages[0]
    return answer(
        {"sms_id": message.id, "status": SMS_STATUS[message.status], "parts": message.parts}
    )


@command("createSmsMessage")
async def create_sms_message(call: Call) -> Response:
    text, wanted, name = call.require("message"), sender_id(call), call.get("name") or ""
    if (call.get("time") or "0").strip() != "0":
        raise InvalidRequest(
            "time (a scheduled mailing) is not supported; call sendSms when the message is due",
            field="time",
        )

    def work(session: Session) -> tuple[MessageTemplate, str | None]:
        template, _ = templates.create_template(
            session,
            call.account_id,
            text,
            max_parts=call.rt.settings.max_parts,
            sender_id=wanted,
            name=name,
        )
        return template, templates.sender_name(session, template)

    template, alphaname = await call.write(work)
    return answer(
        {
            "status": "ok",
            "parts": count_segments(text).parts,
            "len": len(text),
            "message_id": template.id,
            "alphaname": alphaname or "system",
            "time": 0,
        }
    )


@command("checkSMSMessageStatus")
async def check_sms_message_status(call: Call) -> Response:
    template_id = call.ident("message_id")

    def work(session: Session) -> tuple[MessageTemplate, str | None]:
        template = templates.get_template(session, call.account_id, template_id)
        return template, templates.sender_name(session, template)

    template, alphaname = await call.read(work)
    return answer(
        {
            "message_id": template.id,
            "message": template.text,
            "name": template.name,
            "status": MODERATED,
            "parts": count_segments(template.text).parts,
            "len": len(template.text),
            "alphaname": alphaname or "SYSTEM",
            "d_create": call.local_time(template.created_at),
        }
    )


@command("getMessagesList")
async def get_messages_list(call: Call) -> Response:
    limit, offset = _rows(call)
    rows = await call.read(
        lambda s: templates.list_templates(s, call.account_id, limit=limit, offset=offset)
    )
    return answer(
        {
            "result": [
                {
                    "message_id": t.id,
                    "message": t.text,
                    "parts": count_segments(t.text).parts,
                    "d_create": call.local_time(t.created_at),
                    "status": MODERATED,
                }
                for t in rows
            ]
        }
    )


@command("sendSms")
async def send_sms(call: Call) -> Response:
    template_id, phone = call.ident("message_id"), call.require("phone")

    def work(session: Session) -> tuple[str, str]:
        template = templates.get_template(session, call.account_id, template_id)
        return template.text, templates.template_sender(session, template).name

    text, sender = await call.read(work)
    message = (await send_one(call, phone, text, sender)).messages[0]
    return answer(
        {"sms_id": message.id, "status": SMS_STATUS[message.status], "parts": message.parts}
    )


@command("checkSMS")
async def check_sms(call: Call) -> Response:
    sms_id = call.ident("sms_id")
    message = await call.read(lambda s: queries.get_message(s, call.account_id, sms_id))
    done = message.done_at if message.status == MessageStatus.DELIVERED else None
    return answer(
        {
            "sms_id": message.id,
            "sent": unix(message.submitted_at) if message.submitted_at is not None else 0,
            "delivered": unix(done) if done is not None else 0,
            "status": SMS_STATUS[message.status],
        }
    )


@command("getSmsDeliveryList")
async def get_sms_delivery_list(call: Call) -> Response:
    template_id = call.ident("message_id")
    limit, offset = _rows(call)

    def work(session: Session) -> list[dict[str, object]]:
        template = templates.get_template(session, call.account_id, template_id)
        return [
            {
                "sms_id": m.id,
                "phone": int(m.msisdn),
                "status": SMS_STATUS[m.status],
                "d_sent": call.local_time(m.submitted_at) if m.submitted_at else None,
            }
            for m in templates.template_messages(session, template, limit=limit, offset=offset)
        ]

    return answer({"result": await call.read(work)})
