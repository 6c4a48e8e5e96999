"""message numbers: the phone filter's table instead of ix_messages_account_msisdn

A sending's numbers went into that index one at a time at random places; the table is
filled once per sending in number order (see ``MessageNumber``).

Revision ID: numbers0001
Revises: limits0001
Create Date: 2026-12-07 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "numbers0001"
down_revision: str | None = "limits0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_numbers",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("message_id", _BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "msisdn", "message_id", name=op.f("pk_message_numbers")
        ),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO message_numbers (account_id, msisdn, message_id) "
        "SELECT account_id, msisdn, id FROM messages ORDER BY account_id, msisdn, id"
    )
    # Plain index operations (no batch): SQLite drops and creates indexes without copying
    # the table.
    op.drop_index("ix_messages_account_msisdn", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_account_msisdn", "messages", ["account_id", "msisdn"])
    op.drop_table("message_numbers")
