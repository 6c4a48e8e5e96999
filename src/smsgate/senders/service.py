"""Sender names: requested by a customer, approved or rejected by the operator."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from smsgate.accounts.service import get_account
from smsgate.errors import InvalidRequest, NotFound
from smsgate.senders.models import Sender, SenderStatus
from smsgate.senders.names import check_sender


def request_sender(
    session: Session, account_id: int, name: str, *, approved: bool = False
) -> Sender:
    get_account(session, account_id)
    name = check_sender(name)
    existing = session.scalar(
        select(Sender).where(Sender.account_id == account_id, Sender.name == name)
    )
    if existing is not None:
        if approved and existing.status != SenderStatus.APPROVED:
            existing.status = SenderStatus.APPROVED
        return existing
    sender = Sender(
        account_id=account_id,
        name=name,
        status=SenderStatus.APPROVED if approved else SenderStatus.PENDING,
    )
    session.add(sender)
    session.flush()
    return sender


def find_sender(session: Session, account_id: int, name: str) -> Sender:
    sender = session.scalar(
        select(Sender).where(Sender.account_id == account_id, Sender.name == name)
    )
    if sender is None:
        raise NotFound(
            f"account {account_id} has no sender named {name!r}", code="sender_not_found"
        )
    return sender


def decide(session: Session, sender: Sender, *, approve: bool, reason: str = "") -> Sender:
    if not approve and not reason.strip():
        raise InvalidRequest("a rejection needs a reason", field="reason")
    sender.status = SenderStatus.APPROVED if approve else SenderStatus.REJECTED
    sender.reason = reason.strip()
    session.flush()
    return sender


def list_senders(session: Session, account_id: int, *, approved_only: bool = False) -> list[Sender]:
    query = select(Sender).where(Sender.account_id == account_id)
    if approved_only:
        query = query.where(Sender.status == SenderStatus.APPROVED)
    return list(session.scalars(query.order_by(Sender.id)))
