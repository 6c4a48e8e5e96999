"""Message templates and password objects: scoping, validation and code generation."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.db import Database
from smsgate.errors import InvalidRequest, NotFound
from smsgate.senders.service import request_sender
from smsgate.templates import service
from smsgate.templates.models import CodeKind, PasswordObject
from tests.support.factories import make_customer

ALPHABETS = {
    CodeKind.LETTERS: set(string.ascii_uppercase),
    CodeKind.NUMBERS: set(string.digits),
    CodeKind.BOTH: set(string.ascii_uppercase + string.digits),
}


@given(st.sampled_from(list(CodeKind)), st.integers(min_value=1, max_value=16))
def test_codes_have_the_kind_and_length(kind: CodeKind, length: int) -> None:
    code = service.generate_code(kind, length)
    assert len(code) == length and set(code) <= ALPHABETS[kind]


def test_codes_differ_and_use_the_whole_alphabet() -> None:
    codes = {service.generate_code(CodeKind.BOTH, 16) for _ in range(200)}
    assert len(codes) == 200
    assert set("".join(codes)) == ALPHABETS[CodeKind.BOTH]


@pytest.mark.parametrize("length", [0, 17, -1])
def test_code_length_is_1_to_16(length: int) -> None:
    with pytest.raises(InvalidRequest) as raised:
        service.generate_code(CodeKind.NUMBERS, length)
    assert raised.value.code == "invalid_code_length"


def test_fill_code_replaces_every_placeholder_with_one_code() -> None:
    obj = PasswordObject(kind=CodeKind.NUMBERS, length=6)
    text, code = service.fill_code("%CODE% is %CODE%", obj)
    assert text == f"{code} is {code}" and code.isdigit() and len(code) == 6
    with pytest.raises(InvalidRequest) as raised:
        service.fill_code("no code here", obj)
    assert raised.value.code == "code_placeholder_missing"


def test_templates_are_scoped_and_deduplicated(db: Database, plan: str) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    with db.write() as session:
        shop = request_sender(session, alice.account_id, "SHOP", approved=True)
        pending = request_sender(session, alice.account_id, "LATER")
        first, new = service.create_template(session, alice.account_id, "Hi", max_parts=10)
        again, new_again = service.create_template(session, alice.account_id, "Hi", max_parts=10)
        other, _ = service.create_template(
            session, alice.account_id, "Hi", max_parts=10, sender_id=shop.id
        )
        assert new and not new_again and again.id == first.id and other.id != first.id
        assert service.template_sender(session, first).name == alice.sender
        assert service.template_sender(session, other).name == "SHOP"
        assert service.sender_name(session, first) is None
        for bad, code in (
            ({"text": ""}, "text_required"),
            ({"text": "x" * 1531}, "too_many_parts"),
            ({"text": "x", "sender_id": pending.id}, "sender_not_approved"),
            ({"text": "x", "sender_id": 99999}, "sender_not_approved"),
        ):
            with pytest.raises(InvalidRequest) as raised:
                service.create_template(session, alice.account_id, max_parts=10, **bad)  # type: ignore[arg-type]
            assert raised.value.code == code
        bob_template, _ = service.create_template(session, bob.account_id, "Hi", max_parts=10)
        assert bob_template.id not in (first.id, other.id)
    with db.read() as session:
        with pytest.raises(NotFound):
            service.get_template(session, bob.account_id, first.id)
        assert [t.id for t in service.list_templates(session, alice.account_id, limit=10)] == [
            other.id,
            first.id,
        ]
        assert (
            service.list_templates(session, alice.account_id, limit=1, offset=1)[0].id == first.id
        )


def test_password_objects_are_scoped(db: Database, plan: str) -> None:
    alice = make_customer(db, name="Alice")
    bob = make_customer(db, name="Bob")
    with db.write() as session:
        obj = service.create_password_object(session, alice.account_id, "both", 5)
        with pytest.raises(InvalidRequest):
            service.create_password_object(session, alice.account_id, "hex", 5)
        for call in (
            lambda: service.get_password_object(session, bob.account_id, obj.id),
            lambda: service.edit_password_object(session, bob.account_id, obj.id, length=3),
            lambda: service.delete_password_object(session, bob.account_id, obj.id),
        ):
            with pytest.raises(NotFound):
                call()
        assert service.list_password_objects(session, bob.account_id) == []
        edited = service.edit_password_object(session, alice.account_id, obj.id, kind="numbers")
        assert (edited.kind, edited.length) == ("numbers", 5)
        service.delete_password_object(session, alice.account_id, obj.id)
        assert service.list_password_objects(session, alice.account_id) == []
