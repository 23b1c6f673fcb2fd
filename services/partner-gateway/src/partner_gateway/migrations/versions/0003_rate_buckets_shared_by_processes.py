"""rate buckets shared by every API process

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("limiter", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(precision=53), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("limiter", "partner_id", name=op.f("pk_rate_bucket")),
    )


def downgrade() -> None:
    op.drop_table("rate_bucket")
