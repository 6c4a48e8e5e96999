"""connector leases: one dispatcher holds each configured connector's binds

Revision ID: leases0001
Revises: inbound0001
Create Date: 2026-11-24 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsgate.db

revision: str = "leases0001"
down_revision: str | None = "inbound0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_leases",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("lease_until", smsgate.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_connector_leases")),
    )


def downgrade() -> None:
    op.drop_table("connector_leases")
