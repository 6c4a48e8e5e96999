"""Message templates and one-time-code recipes, every read and write scoped by account.

A template is a text kept for sending by id (sms.by's ``createSmsMessage`` / ``sendSms``).
Creating a template whose text and sender an existing one of the account already has
returns that one, so a client that creates "its" message on every start does not pile up
copies. A password object says how to make a one-time code (alphabet and length);
``fill_code`` puts a fresh code from ``secrets`` into a text's ``%CODE%``. Services flush;
the caller commits.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.errors import InvalidRequest, NotFound
from smsgate.messaging.models import Message
from smsgate.messaging.segments import count_segments
from smsgate.senders.models import Sender
from smsgate.senders.service import list_senders
from smsgate.templates.models import CodeKind, MessageTemplate, PasswordObject

CODE_PLACEHOLDER = "%CODE%"
MIN_CODE_LENGTH = 1
MAX_CODE_LENGTH = 16
MAX_NAME_LENGTH = 200
_ALPHABETS = {
    CodeKind.LETTERS: string.ascii_uppercase,
    CodeKind.NUMBERS: string.digits,
    CodeKind.BOTH: string.ascii_uppercase + string.digits,
}


def resolve_sender(session: Session, account_id: int, sender_id: int | None) -> Sender:
    """An approved sender of the account by id; None is the account's system sender, its
    oldest approved one."""
    approved = list_senders(session, account_id, approved_only=True)
    if sender_id is None:
        if not approved:
            raise InvalidRequest(
                "the account has no approved sender name yet; request one and wait for approval",
                field="sender",
                code="sender_not_approved",
            )
        return approved[0]
    for sender in approved:
        if sender.id == sender_id:
            return sender
    raise InvalidRequest(
        f"sender id {sender_id} is not an approved sender of this account",
        field="sender",
        code="sender_not_approved",
    )


def create_template(
    session: Session,
    account_id: int,
    text: str,
    *,
    max_parts: int,
    sender_id: int | None = None,
    name: str = "",
) -> tuple[MessageTemplate, bool]:
    """The template, and whether it is new (False: the account already had this text)."""
    get_account(session, account_id)
    if not text:
        raise InvalidRequest("the message text is empty", field="text", code="text_required")
    parts = count_segments(text).parts
    if parts > max_parts:
        raise InvalidRequest(
            f"the text needs {parts} SMS parts; at most {max_parts} are allowed",
            field="text",
            code="too_many_parts",
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"the name is longer than {MAX_NAME_LENGTH} characters", field="name")
    if sender_id is not None:
        resolve_sender(session, account_id, sender_id)
    same_sender = (
        MessageTemplate.sender_id.is_(None)
        if sender_id is None
        else MessageTemplate.sender_id == sender_id
    )
    existing = session.scalar(
        select(MessageTemplate)
        .where(
            MessageTemplate.account_id == account_id,
            MessageTemplate.text == text,
            same_sender,
        )
        .order_by(MessageTemplate.id)
        .limit(1)
    )
    if existing is not None:
        return existing, False
    template = MessageTemplate(account_id=account_id, text=text, sender_id=sender_id, name=name)
    session.add(template)
    session.flush()
    return template, True


def get_template(session: Session, account_id: int, template_id: int) -> MessageTemplate:
    template = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.id == template_id, MessageTemplate.account_id == account_id
        )
    )
    if template is None:
        raise NotFound(f"no message template with id {template_id}", code="template_not_found")
    return template


def list_templates(
    session: Session, account_id: int, *, limit: int, offset: int = 0
) -> list[MessageTemplate]:
    """Newest first."""
    return list(
        session.scalars(
            select(MessageTemplate)
            .where(MessageTemplate.account_id == account_id)
            .order_by(MessageTemplate.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def template_sender(session: Session, template: MessageTemplate) -> Sender:
    return resolve_sender(session, template.account_id, template.sender_id)


def sender_name(session: Session, template: MessageTemplate) -> str | None:
    """The name of the template's own sender; None when it uses the system sender."""
    if template.sender_id is None:
        return None
    sender = session.get(Sender, template.sender_id)
    return sender.name if sender is not None else None


def template_messages(
    session: Session, template: MessageTemplate, *, limit: int, offset: int = 0
) -> list[Message]:
    """Messages of the template's account with its text and sender sent since it was
    created, newest first. For a template of the system sender that is today's system
    sender: messages are not linked to templates, so they are matched by what was sent."""
    query = select(Message).where(
        Message.account_id == template.account_id,
        Message.text == template.text,
        Message.created_at >= template.created_at,
    )
    name = sender_name(session, template)
    if template.sender_id is None:
        approved = list_senders(session, template.account_id, approved_only=True)
        name = approved[0].name if approved else None
    if name is not None:
        query = query.where(Message.sender == name)
    return list(session.scalars(query.order_by(Message.id.desc()).limit(limit).offset(offset)))


def _kind(kind: str) -> CodeKind:
    try:
        return CodeKind(kind)
    except ValueError:
        raise InvalidRequest(
            f"code kind {kind[:20]!r} is not one of letters, numbers, both",
            field="kind",
            code="invalid_code_kind",
        ) from None


def _length(length: int) -> int:
    if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
        raise InvalidRequest(
            f"the code length must be between {MIN_CODE_LENGTH} and {MAX_CODE_LENGTH}",
            field="length",
            code="invalid_code_length",
        )
    return length


def create_password_object(
    session: Session, account_id: int, kind: str, length: int
) -> PasswordObject:
    get_account(session, account_id)
    obj = PasswordObject(account_id=account_id, kind=_kind(kind), length=_length(length))
    session.add(obj)
    session.flush()
    return obj


def get_password_object(session: Session, account_id: int, object_id: int) -> PasswordObject:
    obj = session.scalar(
        select(PasswordObject).where(
            PasswordObject.id == object_id, PasswordObject.account_id == account_id
        )
    )
    if obj is None:
        raise NotFound(f"no password object with id {object_id}", code="password_object_not_found")
    return obj


def list_password_objects(session: Session, account_id: int) -> list[PasswordObject]:
    return list(
        session.scalars(
            select(PasswordObject)
            .where(PasswordObject.account_id == account_id)
            .order_by(PasswordObject.id)
        )
    )


def edit_password_object(
    session: Session,
    account_id: int,
    object_id: int,
    *,
    kind: str | None = None,
    length: int | None = None,
) -> PasswordObject:
    obj = get_password_object(session, account_id, object_id)
    if kind is not None:
        obj.kind = _kind(kind)
    if length is not None:
        obj.length = _length(length)
    session.flush()
    return obj


def delete_password_object(session: Session, account_id: int, object_id: int) -> None:
    get_password_object(session, account_id, object_id)
    session.execute(
        delete(PasswordObject).where(
            PasswordObject.id == object_id, PasswordObject.account_id == account_id
        )
    )


def generate_code(kind: str, length: int) -> str:
    alphabet = _ALPHABETS[_kind(kind)]
    return "".join(secrets.choice(alphabet) for _ in range(_length(length)))


def fill_code(text: str, obj: PasswordObject) -> tuple[str, str]:
    """The text with every ``%CODE%`` replaced by one fresh code, and the code."""
    if CODE_PLACEHOLDER not in text:
        raise InvalidRequest(
            f"the message text must contain {CODE_PLACEHOLDER}, where the code goes",
            field="text",
            code="code_placeholder_missing",
        )
    code = generate_code(obj.kind, obj.length)
    return text.replace(CODE_PLACEHOLDER, code), code
