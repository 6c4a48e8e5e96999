"""The operator's side of sender names: every account's requests, approval and rejection."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smsgate.audit import service as audit
from smsgate.errors import InvalidRequest, NotFound
from smsgate.senders.models import Sender, SenderStatus
from smsgate.senders.service import decide


def list_all(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    status: SenderStatus | None = None,
    account_id: int | None = None,
) -> tuple[list[Sender], int]:
    """Sender names of every account, oldest request first (the order to review them in)."""
    query = select(Sender)
    if status is not None:
        query = query.where(Sender.status == status)
    if account_id is not None:
        query = query.where(Sender.account_id == account_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Sender.id).limit(limit).offset(offset))
    return list(rows), total


def get_sender(session: Session, sender_id: int) -> Sender:
    sender = session.get(Sender, sender_id)
    if sender is None:
        raise NotFound(f"no sender name with id {sender_id}", code="sender_not_found")
    return sender


def approve(session: Session, sender_id: int, *, actor: str, address: str = "") -> Sender:
    """Approve a name (a rejected one too: the operator may change their mind)."""
    return _decide(session, sender_id, True, "", actor, address)


def reject(
    session: Session, sender_id: int, reason: str, *, actor: str, address: str = ""
) -> Sender:
    """Reject a name with a reason the customer sees; sends from it are refused from now on."""
    return _decide(session, sender_id, False, reason, actor, address)


def _decide(
    session: Session, sender_id: int, approved: bool, reason: str, actor: str, address: str
) -> Sender:
    if len(reason.strip()) > 500:
        raise InvalidRequest("the reason is limited to 500 characters", field="reason")
    sender = get_sender(session, sender_id)
    previous = sender.status
    decide(session, sender, approve=approved, reason=reason)
    audit.record(
        session,
        actor,
        "sender.approve" if approved else "sender.reject",
        f"sender:{sender.id}",
        address=address,
        account_id=sender.account_id,
        name=sender.name,
        reason=sender.reason,
        previous=previous,
    )
    return sender
