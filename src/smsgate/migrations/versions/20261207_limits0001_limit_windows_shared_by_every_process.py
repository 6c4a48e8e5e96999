"""limit windows: failed-authentication and sign-in limits shared by every process

Revision ID: limits0001
Revises: dashboard0001
Create Date: 2026-12-07 10:42:32.129074
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsgate.db

revision: str = "limits0001"
down_revision: str | None = "dashboard0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_windows",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_end", smsgate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_limit_windows")),
    )
    with op.batch_alter_table("limit_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_limit_windows_window_end"), ["window_end"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("limit_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_limit_windows_window_end"))
    op.drop_table("limit_windows")
