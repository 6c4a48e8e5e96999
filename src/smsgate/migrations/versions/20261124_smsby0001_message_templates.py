"""message templates and password objects (sms.by messages and two-factor codes)

Revision ID: smsby0001
Revises: routing0001
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsgate.db

revision: str = "smsby0001"
down_revision: str | None = "routing0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", smsgate.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_message_templates_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["senders.id"], name=op.f("fk_message_templates_sender_id_senders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
    )
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_templates_account_id_id", ["account_id", "id"], unique=False
        )

    op.create_table(
        "password_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("created_at", smsgate.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_password_objects_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_objects")),
    )
    with op.batch_alter_table("password_objects", schema=None) as batch_op:
        batch_op.create_index(
            "ix_password_objects_account_id_id", ["account_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("password_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_password_objects_account_id_id")

    op.drop_table("password_objects")
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_message_templates_account_id_id")

    op.drop_table("message_templates")
